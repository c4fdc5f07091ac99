import CCRC32C

/// CRC32C (Castagnoli), the checksum GCS keeps for every object, over the SSE4.2 C routine.
/// Incremental, so a file is checksummed as it streams.
package struct CRC32C: Sendable, Equatable {
    package private(set) var value: UInt32 = 0

    package init() {}

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        value = cassnap_crc32c_update(value, base, bytes.count)
    }

    package mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The value as GCS writes it in `crc32c` and `x-goog-hash`: base64 of the big-endian bytes.
    package var base64: String { CRC32C.base64(value) }

    package static func base64(_ value: UInt32) -> String {
        let bytes: [UInt8] = [
            UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF),
        ]
        return Base64.encode(bytes)
    }
}
