/// A file in `snapshots/<tag>/` (or `snapshots/<tag>/.<index>/`) that cassnap does not
/// recognise. A snapshot is immutable and belongs to the backup whole, so such a file ships as
/// is, is listed in the manifest and restores byte for byte (docs/FORMAT.md, "Opaque files").
///
/// Names real nodes write, as read in Cassandra's source (apache/cassandra):
/// - SAI (5.0), `src/java/org/apache/cassandra/index/sai/disk/format/Version.java`
///   `defaultFileNameFormat`: `<sstable descriptor>-SAI+<version>(+<index name>)+<component>.db`,
///   version `aa`; components in `IndexComponent.java`: per index `Meta`, `BalancedTree`,
///   `TermsData`, `PQ`, `PostingLists`, `ColumnComplete`; per SSTable `TokenValues`,
///   `PartitionSizes`, `PartitionKeyBlocks`, `PartitionKeyBlockOffsets`, `ClusteringKeyBlocks`,
///   `ClusteringKeyBlockOffsets`, `GroupMeta`, `GroupComplete`. Every SAI file carries its
///   SSTable's descriptor, e.g. `nb-1-big-SAI+aa+GroupComplete.db`,
///   `nb-1-big-SAI+aa+age_idx+Meta.db`.
/// - SASI (3.4+), `src/java/org/apache/cassandra/index/sasi/conf/ColumnIndex.java`
///   `FILE_NAME_FORMAT = "SI_%s.db"`, a component of the SSTable: `mc-1-big-SI_age_idx.db`.
/// - Leveled compaction's manifest (1.1–1.2), `src/java/org/apache/cassandra/db/Directories.java`
///   `tryGetLeveledManifest`: `cfname + LeveledManifest.EXTENSION` (`".json"`), i.e.
///   `<table>.json` (not `<keyspace>-<table>.json`) in the table directory;
///   `snapshotLeveledManifest` hard-links it into `snapshots/<tag>/`. `LeveledManifest.serialize`
///   also keeps `<table>-old.json` and writes `<table>-tmp.json` beside the live one; those are
///   never linked into a snapshot.
package struct OpaqueFileName: Sendable, Hashable, CustomStringConvertible {
    package let name: String
    /// The SSTable the file belongs to, when the name starts with an SSTable descriptor (SAI,
    /// SASI). Such a file is a hard link of a live file that later snapshots share, so it goes to
    /// the node's pool like a component; other opaque files are stored per snapshot.
    package let descriptor: SSTableDescriptor?

    /// Checks `name` with the rules every restored file name follows (one segment, no `..`, NUL,
    /// `\` or control characters, at most 255 bytes) and refuses unfinished files and names that
    /// are recognised files (they have their own place in a manifest).
    package init(_ name: String) throws(ValidationError) {
        func invalid(_ reason: String) -> ValidationError {
            .invalid(field: .opaqueFile, value: name, reason: reason)
        }
        do { try RestorePath.validate(fileName: name) } catch { throw invalid("\(error)") }
        if let reason = Self.unfinished(name) { throw invalid(reason) }
        if (try? SSTableFileName.parse(name)) != nil {
            throw invalid("it is an SSTable component, not an opaque file")
        }
        let descriptor = SSTableFileName.descriptor(ofUnknownComponentFile: name)
        if let descriptor, descriptor.isTemporary {
            throw invalid("it belongs to an SSTable that is still being written")
        }
        self.name = name
        // `~` marks collision keys in the pool; a name with one is stored per snapshot instead.
        self.descriptor = name.contains("~") ? nil : descriptor
    }

    /// Why Cassandra is still writing a file of this name (`*_txn_*.log`, `tmp-*`, `tmplink-*`,
    /// `*.tmp`), or nil.
    package static func unfinished(_ name: String) -> String? {
        if name.contains("_txn_") && name.hasSuffix(".log") { return "it is a transaction log" }
        if name.hasPrefix("tmp-") || name.hasPrefix("tmplink-") || name.hasSuffix(".tmp") {
            return "it is a temporary file"
        }
        return nil
    }

    /// Whether the file goes into the pool (see `descriptor`).
    package var isPooled: Bool { descriptor != nil }

    /// The SSTable name (`nb-1-big`) of a pooled file.
    package var sstableName: String? { descriptor?.sstableName }

    package var description: String { name }
}
