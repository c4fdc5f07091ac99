/// A value that JSON, manifests and object keys carry as one validated string: decoding runs
/// the same validation as `init(_:)`, and encoding writes `description`.
package protocol StringCodable: Codable, CustomStringConvertible {
    init(_ string: String) throws(ValidationError)
}

extension StringCodable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do { try self.init(string) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
