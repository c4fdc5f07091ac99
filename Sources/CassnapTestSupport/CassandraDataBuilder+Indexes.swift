import Foundation

/// Files real nodes keep beside SSTables that cassnap does not recognise, with the names
/// Cassandra's source gives them (apache/cassandra):
/// - SAI, `index/sai/disk/format/Version.java` `defaultFileNameFormat`:
///   `<sstable descriptor>-SAI+aa(+<index>)+<component>.db`; the components are
///   `index/sai/disk/format/IndexComponent.java`'s.
/// - SASI, `index/sasi/conf/ColumnIndex.java`: `FILE_NAME_FORMAT = "SI_%s.db"`, a component of
///   the SSTable, so `<sstable descriptor>-SI_<index>.db`.
/// - Leveled compaction's manifest on 1.1–1.2, `db/Directories.java` `tryGetLeveledManifest`:
///   `<table>.json` in the table directory, hard-linked into `snapshots/<tag>/` by
///   `snapshotLeveledManifest`; `db/compaction/LeveledManifest.java` `serialize` writes
///   `<table>-tmp.json` and keeps `<table>-old.json` beside it.
package enum CassandraExtraFiles {
    package static let saiVersion = "aa"
    /// `IndexComponent` per-SSTable components (shared by every SAI index of the SSTable).
    package static let saiPerSSTableComponents = [
        "TokenValues", "PartitionSizes", "PartitionKeyBlocks", "PartitionKeyBlockOffsets", "GroupMeta",
        "GroupComplete",
    ]
    /// `IndexComponent` per-index components of a literal (string) index.
    package static let saiPerIndexComponents = ["Meta", "TermsData", "PostingLists", "ColumnComplete"]

    /// `SAI+aa+GroupComplete.db`, `SAI+aa+age_idx+Meta.db`: what follows the SSTable prefix.
    package static func saiComponents(indexes: [String]) -> [String] {
        guard !indexes.isEmpty else { return [] }
        return saiPerSSTableComponents.map { "SAI+\(saiVersion)+\($0).db" }
            + indexes.flatMap { index in saiPerIndexComponents.map { "SAI+\(saiVersion)+\(index)+\($0).db" } }
    }

    package static func sasiComponents(indexes: [String]) -> [String] {
        indexes.map { "SI_\($0).db" }
    }

    /// `<table>.json` (1.2 `LeveledManifest.EXTENSION`).
    package static func leveledManifestName(table: String) -> String { table + ".json" }

    /// What 1.2 `LeveledManifest.serialize` writes: Jackson's default pretty printer, every
    /// level with its member generations.
    package static func leveledManifestJSON(levels: [[Int]]) -> String {
        let entries = levels.enumerated().map { level, members in
            let list =
                members.isEmpty ? "[ ]" : "[ " + members.map(String.init).joined(separator: ", ") + " ]"
            return "{\n    \"generation\" : \(level),\n    \"members\" : \(list)\n  }"
        }
        return "{\n  \"generations\" : [ " + entries.joined(separator: ", ") + " ]\n}"
    }

    /// Writes the SAI and SASI components of one SSTable beside it and lists them in its
    /// `TOC.txt` (SAI registers its components with the SSTable, which appends them).
    static func writeIndexComponents(
        _ components: [String], directory: URL, prefix: String, rng: inout SeededGenerator
    ) throws -> [SSTableFileFixture] {
        guard !components.isEmpty else { return [] }
        var files: [SSTableFileFixture] = []
        for component in components {
            let url = directory.appendingPathComponent(prefix + component)
            let size = 32 + Int(rng.next() % 480)
            let bytes = rng.bytes(size)
            try bytes.withUnsafeBytes { try FS.writeFile(url.path, $0) }
            files.append(
                SSTableFileFixture(name: prefix + component, component: component, url: url, size: size))
        }
        let toc = directory.appendingPathComponent(prefix + "TOC.txt")
        if FS.exists(toc.path) {
            let text = try FS.readText(toc.path) + components.joined(separator: "\n") + "\n"
            try FS.writeFile(toc.path, text)
        }
        return files
    }
}
