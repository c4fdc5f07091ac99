import Foundation

/// The origin of a snapshot. Only `user` snapshots are shipped by default: the others are made
/// by Cassandra itself as safety copies and can be large.
package enum SnapshotTagClass: Sendable, Hashable {
    /// Anything an operator or a tool named.
    case user
    /// Repair snapshots are named by the parent repair session's UUID. A user tag that is a bare
    /// UUID looks the same; ship it with an include pattern.
    case repair(session: UUID)
    /// `truncated-<millis>-<table>`, taken by TRUNCATE when `auto_snapshot` is on.
    case truncated(millis: Int64, table: String)
    /// `dropped-<millis>-<table>`, taken by DROP TABLE/KEYSPACE when `auto_snapshot` is on.
    case dropped(millis: Int64, table: String)
    /// `pre-scrub-<millis>`, taken by `nodetool scrub` unless `--no-snapshot`.
    case preScrub(millis: Int64)

    package enum Category: String, Sendable, Hashable, Codable, CaseIterable {
        case user, repair, truncated, dropped, preScrub = "pre-scrub"
    }

    package var category: Category {
        switch self {
        case .user: .user
        case .repair: .repair
        case .truncated: .truncated
        case .dropped: .dropped
        case .preScrub: .preScrub
        }
    }

    init(tag: String) {
        if let session = Self.repairSession(tag) {
            self = .repair(session: session)
        } else if let (millis, table) = Self.timestamped(tag, prefix: "truncated-") {
            self = .truncated(millis: millis, table: table)
        } else if let (millis, table) = Self.timestamped(tag, prefix: "dropped-") {
            self = .dropped(millis: millis, table: table)
        } else if tag.hasPrefix("pre-scrub-"), let millis = Self.millis(tag.dropFirst("pre-scrub-".count)) {
            self = .preScrub(millis: millis)
        } else {
            self = .user
        }
    }

    /// Only the 8-4-4-4-12 form: Foundation's parser is the judge, the length rules out others.
    private static func repairSession(_ tag: String) -> UUID? {
        guard tag.utf8.count == 36 else { return nil }
        return UUID(uuidString: tag)
    }

    private static func timestamped(_ tag: String, prefix: String) -> (Int64, String)? {
        guard tag.hasPrefix(prefix) else { return nil }
        let rest = tag.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), let millis = millis(rest[..<dash]) else { return nil }
        let table = rest[rest.index(after: dash)...]
        guard CassandraName.isValid(table) else { return nil }
        return (millis, String(table))
    }

    private static func millis(_ digits: Substring) -> Int64? {
        guard !digits.isEmpty,
            digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int64(digits)
    }
}
