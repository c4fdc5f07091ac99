import Foundation

/// The name of a `nodetool snapshot -t <tag>`: a directory under `snapshots/` on disk and a
/// segment of object keys, so it may not contain path separators or control characters.
package struct SnapshotTag: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    package let rawValue: String

    package init(_ rawValue: String) throws(ValidationError) {
        if let problem = KeySegment.problem(in: rawValue) {
            throw .invalid(field: .snapshotTag, value: rawValue, reason: problem)
        }
        self.rawValue = rawValue
    }

    package var description: String { rawValue }

    /// Who made this snapshot, judged from the tag the way Cassandra names its own snapshots.
    package var tagClass: SnapshotTagClass { SnapshotTagClass(tag: rawValue) }

    package static func < (lhs: SnapshotTag, rhs: SnapshotTag) -> Bool { lhs.rawValue < rhs.rawValue }

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
