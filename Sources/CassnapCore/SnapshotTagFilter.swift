/// Which snapshot tags an agent ships. The order of the rules is the order of the checks:
/// 1. a tag matching an `exclude` pattern is skipped;
/// 2. a tag matching an `include` pattern is shipped, whatever its class;
/// 3. if there are `include` patterns, every other tag is skipped;
/// 4. a tag whose class is in `ignoredCategories` is skipped; 5. everything else is shipped.
package struct SnapshotTagFilter: Sendable, Hashable, Codable {
    package var ignoredCategories: Set<SnapshotTagClass.Category>
    package var include: [GlobPattern]
    package var exclude: [GlobPattern]

    /// Cassandra's own safety snapshots are not what an operator means by "a backup".
    package static let defaultIgnoredCategories: Set<SnapshotTagClass.Category> = [
        .repair, .truncated, .dropped, .preScrub,
    ]

    package init(
        ignoredCategories: Set<SnapshotTagClass.Category> = defaultIgnoredCategories,
        include: [GlobPattern] = [], exclude: [GlobPattern] = []
    ) {
        self.ignoredCategories = ignoredCategories
        self.include = include
        self.exclude = exclude
    }

    package enum Decision: Sendable, Hashable, CustomStringConvertible {
        case ship(reason: String)
        case skip(reason: String)

        package var shouldShip: Bool {
            if case .ship = self { true } else { false }
        }

        package var description: String {
            switch self {
            case .ship(let reason): "ship: \(reason)"
            case .skip(let reason): "skip: \(reason)"
            }
        }
    }

    package func decision(for tag: SnapshotTag) -> Decision {
        if let pattern = exclude.first(where: { $0.matches(tag.rawValue) }) {
            return .skip(reason: "matches exclude pattern \(pattern.pattern.quotedForMessage)")
        }
        if let pattern = include.first(where: { $0.matches(tag.rawValue) }) {
            return .ship(reason: "matches include pattern \(pattern.pattern.quotedForMessage)")
        }
        if !include.isEmpty {
            return .skip(reason: "matches no include pattern")
        }
        let category = tag.tagClass.category
        if ignoredCategories.contains(category) {
            return .skip(reason: "\(category.rawValue) snapshots are ignored")
        }
        return .ship(reason: "\(category.rawValue) snapshot")
    }

    package func shouldShip(tag: SnapshotTag) -> Bool { decision(for: tag).shouldShip }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case ignoredCategories = "ignored_categories", include, exclude
    }

    /// Every key is optional in a config file; absent keys take the defaults.
    package init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            ignoredCategories: try container.decodeIfPresent(
                Set<SnapshotTagClass.Category>.self, forKey: .ignoredCategories)
                ?? Self.defaultIgnoredCategories,
            include: try container.decodeIfPresent([GlobPattern].self, forKey: .include) ?? [],
            exclude: try container.decodeIfPresent([GlobPattern].self, forKey: .exclude) ?? [])
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ignoredCategories.map(\.rawValue).sorted(), forKey: .ignoredCategories)
        try container.encode(include, forKey: .include)
        try container.encode(exclude, forKey: .exclude)
    }
}
