/// What one path under a Cassandra data directory is, and whether cassnap ships or watches it.
///
/// Layout (`<table-dir>` is `<table>-<32 hex id>`, or `<table>` before 2.1):
/// ```
/// <data>/<ks>/<table-dir>/<sstable files>                   live
/// <data>/<ks>/<table-dir>/.<index>/<sstable files>          live secondary index
/// <data>/<ks>/<table-dir>/snapshots/<tag>/…                 snapshot (+ manifest.json, schema.cql)
/// <data>/<ks>/<table-dir>/snapshots/<tag>/.<index>/…        snapshot of a secondary index
/// <data>/<ks>/<table-dir>/backups/[.<index>/]…              incremental backups
/// ```
/// Classification looks only at names; callers say whether the path is a directory.
package struct DataPath: Sendable, Hashable {
    /// The path relative to its data directory, components joined by "/" ("" for the root).
    package var relativePath: String
    /// The data directory the path was found under, when classified from an absolute path.
    package var dataDirectory: String?
    package var isDirectory: Bool
    package var keyspace: String?
    package var table: TableRef?
    /// Where inside the table directory; nil above it.
    package var location: Location?
    package var indexName: String?
    package var kind: Kind

    package enum Location: Sendable, Hashable {
        case live
        case snapshot(SnapshotTag)
        case backups
    }

    package enum Kind: Sendable, Hashable {
        case dataDirectory
        case keyspaceDirectory
        case tableDirectory
        case snapshotsDirectory
        case snapshotDirectory
        case backupsDirectory
        case indexDirectory
        case sstableComponent(SSTableFileName)
        /// `manifest.json` or `schema.cql`, written by Cassandra into each `snapshots/<tag>/`.
        case snapshotMetadata(SnapshotMetadataFile)
        /// Any other finished file in `snapshots/<tag>/` or `snapshots/<tag>/.<index>/`: SAI and
        /// SASI components, 1.2's leveled manifest `<table>.json`, components of releases to
        /// come. A snapshot ships whole, so these ship as they are. The same names in the live
        /// directory or `backups/` stay unshipped: those directories change under the agent
        /// (1.2 rewrites `<table>.json` on every compaction, an index build writes as it goes),
        /// and what a restore needs of them is in a snapshot, which is the only place the design
        /// promises to keep every file.
        case opaqueSnapshotFile(OpaqueFileName)
        case ignored(IgnoreReason)
    }

    package var snapshotTag: SnapshotTag? {
        if case .snapshot(let tag) = location { tag } else { nil }
    }

    package var sstable: SSTableFileName? {
        if case .sstableComponent(let file) = kind { file } else { nil }
    }

    /// Files cassnap uploads (tag filters are applied separately).
    package var isShipped: Bool {
        switch kind {
        case .sstableComponent, .snapshotMetadata, .opaqueSnapshotFile: true
        default: false
        }
    }

    package var opaqueFile: OpaqueFileName? {
        if case .opaqueSnapshotFile(let file) = kind { file } else { nil }
    }

    /// Directories whose new entries the watcher must see.
    package var isWatched: Bool {
        switch kind {
        case .dataDirectory, .keyspaceDirectory, .tableDirectory, .snapshotsDirectory, .snapshotDirectory,
            .backupsDirectory, .indexDirectory:
            true
        default: false
        }
    }

    package var ignoreReason: IgnoreReason? {
        if case .ignored(let reason) = kind { reason } else { nil }
    }
}

/// Per-table files Cassandra writes beside a snapshot's SSTables.
package enum SnapshotMetadataFile: String, Sendable, Hashable, CaseIterable, Codable {
    case manifest = "manifest.json"
    case schema = "schema.cql"
}

/// Why a path is never shipped or watched.
package enum IgnoreReason: Sendable, Hashable, CustomStringConvertible {
    /// `*_txn_*.log`: Cassandra's record of an unfinished compaction or flush.
    case transactionLog
    /// `tmp-*`, `tmplink-*`, `*.tmp` and legacy `-tmp-`/`-tmplink-` SSTables: still being written.
    case temporary
    /// Anything else, with what was expected.
    case unrecognized(String)

    package var description: String {
        switch self {
        case .transactionLog: "a transaction log of an unfinished operation"
        case .temporary: "a temporary file that Cassandra is still writing"
        case .unrecognized(let detail): detail
        }
    }
}

extension DataPath {
    /// Classifies an absolute path under whichever of `dataDirectories` contains it (the deepest,
    /// if they nest). A single trailing "/" is accepted.
    package static func classify(path: String, dataDirectories: [String], isDirectory: Bool)
        throws(DataPathError) -> DataPath
    {
        let components = try absoluteComponents(path)
        var best: (root: Substring, depth: Int)?
        for root in dataDirectories {
            let normalized: (root: Substring, depth: Int)
            do {
                normalized = try normalizedRoot(root)
            } catch {
                throw .invalidDataDirectory(path: root, reason: "is not a normalized absolute path: \(error)")
            }
            if normalized.depth >= (best?.depth ?? -1), isBelow(path, root: normalized.root) {
                best = normalized
            }
        }
        guard let best else {
            throw .outsideDataDirectories(path: path, dataDirectories: dataDirectories)
        }
        var result = classify(components: Array(components.dropFirst(best.depth)), isDirectory: isDirectory)
        result.dataDirectory = best.root.isEmpty ? "/" : String(best.root)
        return result
    }

    /// A data directory without its trailing "/" ("" for "/"), and how many components it has.
    /// The bytes are compared, not the characters: a file system names paths by bytes.
    private static func normalizedRoot(_ root: String) throws(DataPathError) -> (root: Substring, depth: Int)
    {
        let depth = try absoluteComponents(root).count
        var trimmed = root[...]
        if trimmed.utf8.last == slash { trimmed = trimmed.dropLast() }
        return (trimmed, depth)
    }

    /// Whether `path` (valid, absolute) is `root` or below it, component by component.
    private static func isBelow(_ path: String, root: Substring) -> Bool {
        let path = path.utf8
        guard path.starts(with: root.utf8) else { return false }
        let rest = path.dropFirst(root.utf8.count)
        return rest.isEmpty || rest.first == slash
    }

    private static let slash = UInt8(ascii: "/")

    /// Classifies a path relative to a data directory, e.g. `ks/users-<id>/nb-1-big-Data.db`.
    package static func classify(relativePath: String, isDirectory: Bool) throws(DataPathError) -> DataPath {
        if relativePath.utf8.contains(0) { throw .containsNUL(path: relativePath) }
        if relativePath.hasPrefix("/") { throw .notRelative(path: relativePath) }
        if relativePath.isEmpty {
            guard isDirectory else { throw .emptyPath }
            return classify(components: [], isDirectory: true)
        }
        return classify(
            components: try components(of: relativePath, original: relativePath), isDirectory: isDirectory)
    }

    private static func absoluteComponents(_ path: String) throws(DataPathError) -> [Substring] {
        if path.isEmpty { throw .emptyPath }
        if path.utf8.contains(0) { throw .containsNUL(path: path) }
        guard path.hasPrefix("/") else { throw .notAbsolute(path: path) }
        if path == "/" { return [] }
        return try components(of: path.dropFirst(), original: path)
    }

    private static func components(of path: Substring, original: String) throws(DataPathError) -> [Substring]
    {
        var body = path
        if body.utf8.last == slash { body = body.dropLast() }
        // Split on the bytes: a Character search would run grapheme breaking over every path
        // an event names. The array is sized once, as a path is split on every event.
        var parts: [Substring] = []
        parts.reserveCapacity(body.utf8.reduce(1) { $1 == slash ? $0 + 1 : $0 })
        var start = body.startIndex
        while let end = body.utf8[start...].firstIndex(of: slash) {
            parts.append(body[start..<end])
            start = body.utf8.index(after: end)
        }
        parts.append(body[start...])
        for part in parts {
            if part.isEmpty { throw .emptyComponent(path: original) }
            if part.utf8.count <= 2 && part.utf8.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                throw .dotComponent(path: original, component: String(part))
            }
        }
        return parts
    }

    private static func components(of path: String, original: String) throws(DataPathError) -> [Substring] {
        try components(of: path[...], original: original)
    }

    private static func classify(components: [Substring], isDirectory: Bool) -> DataPath {
        var result = DataPath(
            relativePath: components.joined(separator: "/"), dataDirectory: nil, isDirectory: isDirectory,
            keyspace: nil, table: nil, location: nil, indexName: nil, kind: .dataDirectory)
        result.kind = classify(components[...], into: &result)
        return result
    }

    /// Walks down the layout, filling `result` as each level is recognised.
    private static func classify(_ components: ArraySlice<Substring>, into result: inout DataPath) -> Kind {
        let isDirectory = result.isDirectory
        guard let keyspaceName = components.first else { return .dataDirectory }
        guard CassandraName.isValid(keyspaceName) else {
            return .ignored(.unrecognized("\(String(keyspaceName).quotedForMessage) is not a keyspace name"))
        }
        result.keyspace = String(keyspaceName)
        let belowKeyspace = components.dropFirst()
        guard let tableDirectoryName = belowKeyspace.first else {
            return isDirectory
                ? .keyspaceDirectory : .ignored(.unrecognized("a file directly in the data directory"))
        }
        if belowKeyspace.count == 1 && !isDirectory {
            return .ignored(.unrecognized("a file directly in a keyspace directory"))
        }
        guard let directory = try? TableDirectory(parsing: String(tableDirectoryName)),
            let table = try? TableRef(keyspace: String(keyspaceName), directory: directory)
        else {
            return .ignored(
                .unrecognized("\(String(tableDirectoryName).quotedForMessage) is not a table directory name"))
        }
        result.table = table
        let inTable = belowKeyspace.dropFirst()
        guard let first = inTable.first else { return .tableDirectory }
        switch first {
        case "snapshots":
            let inSnapshots = inTable.dropFirst()
            guard let tagName = inSnapshots.first else {
                return isDirectory ? .snapshotsDirectory : .ignored(.unrecognized("a file named snapshots"))
            }
            let tag: SnapshotTag
            do {
                tag = try SnapshotTag(String(tagName))
            } catch {
                return .ignored(.unrecognized(error.description))
            }
            let inTag = inSnapshots.dropFirst()
            if inTag.isEmpty && !isDirectory {
                return .ignored(.unrecognized("a file directly in the snapshots directory"))
            }
            result.location = .snapshot(tag)
            if inTag.isEmpty { return .snapshotDirectory }
            return classifyInContainer(inTag, allowsMetadata: true, allowsOpaque: true, into: &result)
        case "backups":
            result.location = .backups
            if inTable.count == 1 {
                return isDirectory ? .backupsDirectory : .ignored(.unrecognized("a file named backups"))
            }
            return classifyInContainer(
                inTable.dropFirst(), allowsMetadata: false, allowsOpaque: false, into: &result)
        default:
            result.location = .live
            return classifyInContainer(inTable, allowsMetadata: false, allowsOpaque: false, into: &result)
        }
    }

    /// Inside a table directory, a snapshot tag directory or `backups/`: files and `.<index>/`.
    private static func classifyInContainer(
        _ components: ArraySlice<Substring>, allowsMetadata: Bool, allowsOpaque: Bool,
        into result: inout DataPath
    ) -> Kind {
        let first = components[components.startIndex]
        let indexName = first.hasPrefix(".") ? first.dropFirst() : nil
        if components.count == 1 {
            guard result.isDirectory else {
                return classifyFile(
                    first, allowsMetadata: allowsMetadata, allowsOpaque: allowsOpaque, into: &result)
            }
            guard let indexName, CassandraName.isValid(indexName) else {
                return .ignored(.unrecognized("unexpected directory \(String(first).quotedForMessage)"))
            }
            result.indexName = String(indexName)
            return .indexDirectory
        }
        guard let indexName, CassandraName.isValid(indexName) else {
            return .ignored(.unrecognized("unexpected directory \(String(first).quotedForMessage)"))
        }
        result.indexName = String(indexName)
        guard components.count == 2, !result.isDirectory else {
            return .ignored(
                .unrecognized("unexpected nesting inside index directory \(String(first).quotedForMessage)"))
        }
        return classifyFile(
            components[components.startIndex + 1], allowsMetadata: false, allowsOpaque: allowsOpaque,
            into: &result)
    }

    private static func classifyFile(
        _ name: Substring, allowsMetadata: Bool, allowsOpaque: Bool, into result: inout DataPath
    ) -> Kind {
        let name = String(name)
        if name.hasSuffix(".log") && name.utf8.containsBytes("_txn_".utf8) {
            return .ignored(.transactionLog)
        }
        if name.hasPrefix("tmp-") || name.hasPrefix("tmplink-") || name.hasSuffix(".tmp") {
            return .ignored(.temporary)
        }
        if allowsMetadata, let metadata = SnapshotMetadataFile(rawValue: name) {
            return .snapshotMetadata(metadata)
        }
        let file: SSTableFileName
        do {
            file = try SSTableFileName.parse(name)
        } catch {
            guard allowsOpaque else { return .ignored(.unrecognized(error.description)) }
            if SSTableFileName.descriptor(ofUnknownComponentFile: name)?.isTemporary == true {
                return .ignored(.temporary)
            }
            do {
                return .opaqueSnapshotFile(try OpaqueFileName(name))
            } catch let refusal {
                return .ignored(.unrecognized(refusal.description))
            }
        }
        if file.descriptor.isTemporary { return .ignored(.temporary) }
        if result.indexName == nil, let legacyIndex = file.descriptor.indexName {
            result.indexName = legacyIndex
        }
        return .sstableComponent(file)
    }
}

extension String.UTF8View {
    /// Whether `needle` occurs in these bytes (Foundation's `contains` goes through CFString).
    package func containsBytes(_ needle: String.UTF8View) -> Bool {
        guard let first = needle.first, needle.count <= count else { return needle.isEmpty }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if self[found...].starts(with: needle) { return true }
            index = self.index(after: found)
        }
        return false
    }
}
