/// A file's SHA-256, as 64 lowercase hex digits.
///
/// SHA-256 rather than CRC32C: restore verification must prove the bytes are the ones the
/// manifest promised, and the collision scheme decides "same name, same content?" by comparing
/// checksums — both need a collision-resistant hash, which a 32-bit CRC is not.
package struct SHA256Digest: Sendable, Hashable, Codable, CustomStringConvertible {
    package let hex: String

    package init(hex: String) throws(ValidationError) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy(CassandraName.isLowercaseHex) else {
            throw .invalid(field: .sha256, value: hex, reason: "expected 64 lowercase hex digits")
        }
        self.hex = hex
    }

    package init(bytes: some Sequence<UInt8>) throws(ValidationError) {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in bytes {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        try self.init(hex: String(decoding: hex, as: UTF8.self))
    }

    /// The 16 digits (64 bits) used in collision keys: short enough to read, long enough that
    /// two contents under one SSTable name on one node never share it in practice.
    package var shortHex: String { String(hex.prefix(16)) }

    package var description: String { hex }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do { try self.init(hex: string) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
