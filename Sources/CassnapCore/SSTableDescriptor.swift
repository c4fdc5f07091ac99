/// The on-disk format family of an SSTable, as its file name shows it.
package enum SSTableFormat: String, Sendable, Hashable, Codable, CaseIterable {
    /// `<ks>-<table>-<version>-<generation>-<Component>` (Cassandra 1.x–2.1).
    case legacy
    /// `<version>-<id>-big-<Component>` (2.2–5.0).
    case big
    /// `<version>-<id>-bti-<Component>` (5.0 trie-indexed).
    case bti
}

/// Markers of SSTables still being written; such files are never shipped.
package enum SSTableTemporaryMarker: String, Sendable, Hashable, CaseIterable {
    case tmp
    case tmplink
}

/// Everything that names one SSTable; all of its component files share it.
package struct SSTableDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// Two lowercase letters, e.g. `jb` (2.0), `ka` (2.1), `la` (2.2), `mc` (3.x), `nb` (4.x),
    /// `oa` (5.0), `da` (5.0 BTI). Kept open so a new Cassandra release does not stop backups.
    package var version: String
    package var generation: SSTableGeneration
    package var format: SSTableFormat
    /// Only legacy names carry their keyspace and table.
    package var keyspace: String?
    package var table: String?
    /// Legacy secondary-index SSTables are named `<ks>-<table>.<index>-…`.
    package var indexName: String?
    package var temporaryMarker: SSTableTemporaryMarker?

    package init(
        version: String, generation: SSTableGeneration, format: SSTableFormat, keyspace: String? = nil,
        table: String? = nil, indexName: String? = nil, temporaryMarker: SSTableTemporaryMarker? = nil
    ) {
        self.version = version
        self.generation = generation
        self.format = format
        self.keyspace = keyspace
        self.table = table
        self.indexName = indexName
        self.temporaryMarker = temporaryMarker
    }

    package var isTemporary: Bool { temporaryMarker != nil }

    /// The name without its component, e.g. `nb-42-big`: the key that groups component files.
    package var sstableName: String {
        var parts: [String] = []
        if format == .legacy {
            parts.append(keyspace ?? "")
            parts.append(indexName.map { "\(table ?? "").\($0)" } ?? (table ?? ""))
        }
        if let temporaryMarker { parts.append(temporaryMarker.rawValue) }
        parts.append(version)
        parts.append(generation.description)
        if format != .legacy { parts.append(format.rawValue) }
        return parts.joined(separator: "-")
    }

    package func fileName(for component: SSTableComponent) -> String {
        "\(sstableName)-\(component.rawValue)"
    }

    package var description: String { sstableName }
}
