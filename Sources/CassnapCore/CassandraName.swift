/// Keyspace, table and index names as Cassandra accepts them: `\w+`, i.e. ASCII letters, digits
/// and underscores (quoted names keep their case but may not add other characters).
package enum CassandraName {
    /// A table directory is `<table>-<32 hex id>` and file names are limited to 255 bytes, so no
    /// Cassandra version can write a longer name (older versions stop at 48).
    package static let maximumLength = 222

    package static func isValid<S: StringProtocol>(_ name: S) -> Bool {
        !name.isEmpty && name.utf8.count <= maximumLength
            && name.utf8.allSatisfy { isWordByte($0) }
    }

    /// Throws unless `name` is a valid keyspace, table or index name.
    package static func validate(_ name: String, as field: ValidationError.Field) throws(ValidationError) {
        if name.isEmpty {
            throw .invalid(field: field, value: name, reason: "must not be empty")
        }
        if name.utf8.count > maximumLength {
            throw .invalid(field: field, value: name, reason: "longer than \(maximumLength) bytes")
        }
        if !isValid(name) {
            throw .invalid(
                field: field, value: name,
                reason: "Cassandra names contain only ASCII letters, digits and underscores")
        }
    }

    static func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
