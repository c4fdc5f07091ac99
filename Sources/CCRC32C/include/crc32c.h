#ifndef CASSNAP_CRC32C_H
#define CASSNAP_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// Extends a CRC32C (Castagnoli) over `length` bytes; start with crc = 0.
/// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
uint32_t cassnap_crc32c_update(uint32_t crc, const void *data, size_t length);

#endif
