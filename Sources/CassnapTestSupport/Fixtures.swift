import Foundation

/// One file the builder, a flush or a compaction wrote.
package struct SSTableFileFixture: Sendable, Hashable {
    /// File name, e.g. `nb-3-big-Data.db`.
    package var name: String
    /// Component, e.g. `Data.db`.
    package var component: String
    package var url: URL
    package var size: Int
}

/// One SSTable: all its component files share a directory and a name prefix.
package struct SSTableFixture: Sendable, Hashable {
    /// On-disk format versions the fake can write.
    package enum Format: String, Sendable, CaseIterable {
        /// Cassandra 1.2, legacy layout in a table directory without an id (`<ks>/<table>/`):
        /// `<ks>-<table>-ic-<gen>-<Component>`, `Digest.sha1`.
        case ic
        /// Cassandra 2.1, legacy layout: `<ks>-<table>-ka-<gen>-<Component>`, `Digest.sha1`.
        case ka
        /// Cassandra 3.0/3.11 `big`.
        case me
        /// Cassandra 4.0/4.1 `big` (the default).
        case nb
        /// Cassandra 5.0 `big`.
        case oa
        /// Cassandra 5.0 `bti` (trie-indexed): `Partitions.db` and `Rows.db` instead of `Index.db`
        /// and `Summary.db`.
        case da

        /// `big` or `bti`.
        package var formatName: String { self == .da ? "bti" : "big" }
        /// Pre-2.2 names carry keyspace and table.
        package var usesLegacyLayout: Bool { self == .ka || self == .ic }
        /// Table directories are `<table>-<id>` since 2.1, `<table>` before.
        package var hasTableIDs: Bool { self != .ic }
        package var digestComponent: String { usesLegacyLayout ? "Digest.sha1" : "Digest.crc32" }
        /// The release a node writing this format would report in `nodetool version`.
        package var releaseVersion: String {
            switch self {
            case .ic: "1.2.19"
            case .ka: "2.1.22"
            case .me: "3.11.17"
            case .nb: "4.1.5"
            case .oa, .da: "5.0.2"
            }
        }

        /// Components in the order they are written; `TOC.txt` last, as Cassandra does.
        package func components(compressed: Bool = true) -> [String] {
            let index = self == .da ? ["Partitions.db", "Rows.db"] : ["Index.db", "Summary.db"]
            return ["Data.db"] + index + [
                "Filter.db", "Statistics.db", compressed ? "CompressionInfo.db" : "CRC.db",
                digestComponent, "TOC.txt",
            ]
        }
    }

    /// How SSTable ids are chosen.
    package enum Identifiers: Sendable, Hashable {
        /// Integer generations `1, 2, 3…` (every version before 4.1, and 4.1's default).
        case sequential
        /// 4.1+ `uuid_sstable_identifiers_enabled: true`: 28-character time-ordered ids such as
        /// `3fw2_0tj4_1fhpc2b2c2y8wxbxq1`.
        case timeUUID
    }

    package var keyspace: String
    package var table: String
    /// Secondary index name when this SSTable sits in an index directory `.<index>/`.
    package var index: String?
    package var format: Format
    /// The id as it appears in file names: `42` or a 28-character time-UUID id.
    package var id: String
    /// Everything before the component, e.g. `nb-42-big-`.
    package var prefix: String
    package var directory: URL
    package var files: [SSTableFileFixture]

    /// The integer generation, or nil for a time-UUID id.
    package var generation: Int? { Int(id) }
    package var dataFile: SSTableFileFixture { files.first { $0.component == "Data.db" }! }
    package var totalSize: Int { files.reduce(0) { $0 + $1.size } }
    package var fileNames: [String] { files.map(\.name) }
}

package struct SecondaryIndexFixture: Sendable, Hashable {
    package var name: String
    /// `.<name>`, the directory inside every table directory.
    package var directoryName: String { "." + name }
    package var sstables: [SSTableFixture]
}

package struct TableFixture: Sendable, Hashable {
    package var keyspace: String
    package var name: String
    /// 32 lowercase hex digits, as in the directory name; empty before 2.1 (`.ic`).
    package var id: String
    /// One table directory per data directory (JBOD), in data-directory order.
    package var directories: [URL]
    package var sstables: [SSTableFixture]
    package var indexes: [SecondaryIndexFixture]

    package var directory: URL { directories[0] }
    package var directoryName: String { id.isEmpty ? name : "\(name)-\(id)" }
    package var isSystem: Bool { CassandraDataBuilder.systemKeyspaces.contains(keyspace) }
    /// The id in UUID form, as `schema.cql` shows it.
    package var uuidString: String { CassandraNaming.uuidString(hex: id) }
    package var allSSTables: [SSTableFixture] { sstables + indexes.flatMap(\.sstables) }
}

/// What `CassandraDataBuilder.build()` created.
package struct CassandraNodeFixture: Sendable {
    /// The node root: the parent of the data directories and the sibling directories.
    package var root: URL
    package var dataDirectories: [URL]
    /// `commitlog`, `saved_caches`, `hints` when created.
    package var siblingDirectories: [URL]
    package var tables: [TableFixture]
    /// The host ID written to `.fake-nodetool-host-id`, if one was configured.
    package var hostID: UUID?

    package var sstables: [SSTableFixture] { tables.flatMap(\.allSSTables) }
    package var files: [SSTableFileFixture] { sstables.flatMap(\.files) }
    package var totalSize: Int { files.reduce(0) { $0 + $1.size } }

    package func table(_ keyspace: String, _ name: String) -> TableFixture? {
        tables.first { $0.keyspace == keyspace && $0.name == name }
    }

    /// A fake nodetool pointed at this node's data directories.
    package func nodetool() -> FakeNodetool {
        FakeNodetool(dataDirectories: dataDirectories)
    }
}
