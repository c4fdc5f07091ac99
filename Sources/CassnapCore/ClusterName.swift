/// The cluster's name as cassnap uses it in object keys. Cassandra's default is "Test Cluster",
/// so spaces are allowed; anything that could split or escape a key segment is not.
package struct ClusterName: Sendable, Hashable, Codable, CustomStringConvertible {
    package let rawValue: String

    package init(_ rawValue: String) throws(ValidationError) {
        if let problem = KeySegment.problem(in: rawValue) {
            throw .invalid(field: .clusterName, value: rawValue, reason: problem)
        }
        if rawValue.first?.isWhitespace == true || rawValue.last?.isWhitespace == true {
            throw .invalid(
                field: .clusterName, value: rawValue, reason: "starts or ends with white space")
        }
        self.rawValue = rawValue
    }

    package var description: String { rawValue }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do { try self.init(string) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
