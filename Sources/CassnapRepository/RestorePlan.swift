import CassnapCore

/// Which object goes to which path, for one node of a snapshot, decided before anything is
/// written. Paths are relative to the node's directory in the target and have passed
/// `RestorePath`; keys are inside the node's prefix. Layout (ready for `nodetool import` and
/// `sstableloader`):
/// ```
/// <host-id>/<keyspace>/<table-dir>/<SSTable components, manifest.json, schema.cql>
/// <host-id>/<keyspace>/<table-dir>/.<index>/<index SSTable components>
/// <host-id>/tokens.json                                             node-level file
/// ```
package struct RestorePlan: Sendable {
    package struct Entry: Sendable, Hashable {
        /// Relative to the target directory, starting with the host ID.
        package var path: String
        package var file: NodeManifest.File
    }

    package var manifest: NodeManifest
    package var entries: [Entry]
    /// The first segment of every path: the host ID, or the name `placed(under:)` gave; empty
    /// for `inPlace()`.
    package var directoryName: String
    /// `<keyspace>/<table-dir>` of each table restored, for the commands printed afterwards.
    package var tableDirectories: [String]

    package var totalBytes: Int64 { entries.reduce(0) { $0 + $1.file.size } }

    /// Which tables to restore: all, or the ones a `--keyspace` / `--table ks.t` filter names.
    package struct Filter: Sendable, Hashable {
        package var keyspaces: Set<String> = []
        package var tables: Set<String> = []

        package init(keyspaces: Set<String> = [], tables: Set<String> = []) {
            self.keyspaces = keyspaces
            self.tables = tables
        }

        func includes(_ table: NodeManifest.Table) -> Bool {
            if keyspaces.isEmpty && tables.isEmpty { return true }
            return keyspaces.contains(table.keyspace) || tables.contains("\(table.keyspace).\(table.table)")
        }
    }

    /// Plans the restore of `manifest`, refusing the whole plan at the first name that would
    /// escape the target or key outside the node's prefix (a hostile or corrupt manifest).
    package init(manifest: NodeManifest, keys: ObjectKeys, filter: Filter = Filter()) throws(RepositoryError)
    {
        self.manifest = manifest
        let host = manifest.node.hostID.description
        let nodeRoot = keys.nodeRoot(manifest.node.hostID)
        var entries: [Entry] = []
        var seen: Set<String> = []
        var tableDirectories: [String] = []
        func add(_ relative: String, _ file: NodeManifest.File) throws(RepositoryError) {
            let path = "\(host)/\(relative)"
            do {
                try RestorePath.validate(fileName: file.fileName)
                try RestorePath.validate(relativePath: path)
                try RestorePath.validate(relativePath: file.objectKey)
            } catch {
                throw .unsafeManifest(host: manifest.node.hostID, detail: error.description)
            }
            guard file.objectKey.hasPrefix(nodeRoot) else {
                throw .unsafeManifest(
                    host: manifest.node.hostID,
                    detail: "\(file.objectKey) is outside the node's prefix \(nodeRoot)")
            }
            guard seen.insert(path).inserted else {
                throw .unsafeManifest(host: manifest.node.hostID, detail: "two files restore to \(path)")
            }
            entries.append(Entry(path: path, file: file))
        }
        for file in manifest.nodeFiles { try add(file.fileName, file) }
        for table in manifest.tables where filter.includes(table) {
            let directory: String
            do {
                directory =
                    "\(table.keyspace)/\(try TableDirectory(table: table.table, id: table.tableID).name)"
            } catch {
                throw .unsafeManifest(host: manifest.node.hostID, detail: error.description)
            }
            tableDirectories.append(directory)
            for file in table.snapshotFiles { try add("\(directory)/\(file.fileName)", file) }
            for sstable in table.sstables {
                let prefix = sstable.index.map { "\(directory)/.\($0)" } ?? directory
                for file in sstable.files { try add("\(prefix)/\(file.fileName)", file) }
            }
            for opaque in table.opaqueFiles {
                let prefix = opaque.index.map { "\(directory)/.\($0)" } ?? directory
                try add("\(prefix)/\(opaque.fileName)", opaque.file)
            }
        }
        self.entries = entries
        self.tableDirectories = tableDirectories
        directoryName = host
    }
}
