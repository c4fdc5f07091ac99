/// The cluster's name as cassnap uses it in object keys. Cassandra's default is "Test Cluster",
/// so spaces are allowed; anything that could split or escape a key segment is not.
package struct ClusterName: Sendable, Hashable, StringCodable {
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
}
