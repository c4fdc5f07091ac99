import Foundation

/// A table's ID (`system_schema.tables.id`). Table directories carry it as 32 hex digits;
/// manifests carry the dashed form operators see in cqlsh.
package struct TableID: Sendable, Hashable, StringCodable {
    package let uuid: UUID

    package init(_ uuid: UUID) { self.uuid = uuid }

    /// Accepts the dashed form (any case) or the 32-digit directory form (lowercase).
    package init(_ string: String) throws(ValidationError) {
        let hex = Array(string.utf8)
        if hex.count == 32, hex.allSatisfy(CassandraName.isLowercaseHex) {
            var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &bytes) { out in
                for i in 0..<16 { out[i] = Self.nibble(hex[2 * i]) << 4 | Self.nibble(hex[2 * i + 1]) }
            }
            self.uuid = UUID(uuid: bytes)
        } else if let uuid = UUID(uuidString: string) {
            self.uuid = uuid
        } else {
            throw .invalid(
                field: .tableID, value: string, reason: "neither a UUID nor 32 lowercase hex digits")
        }
    }

    private static func nibble(_ digit: UInt8) -> UInt8 {
        digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "a") + 10
    }

    /// The form in table directory names, e.g. `5a1c395e78ef11eebd8a8f5e2d8b3a63`.
    package var directoryForm: String {
        withUnsafeBytes(of: uuid.uuid) { bytes in
            String(unsafeUninitializedCapacity: 32) { out in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = Self.hexDigit(byte >> 4)
                    out[2 * i + 1] = Self.hexDigit(byte & 0x0f)
                }
                return 32
            }
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    package var description: String { uuid.uuidString.lowercased() }
}
