import Foundation

/// The name of a `nodetool snapshot -t <tag>`: a directory under `snapshots/` on disk and a
/// segment of object keys, so it may not contain path separators or control characters.
package struct SnapshotTag: Sendable, Hashable, Comparable, StringCodable {
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
}
