import Foundation

/// One node's snapshot for one tag: `nodes/<host-id>/snapshots/<tag>/manifest.json`.
/// It is written last and lists only objects already in the bucket (invariant 4), with
/// everything needed to verify and restore them (invariant 5). Schema: docs/FORMAT.md.
package struct NodeManifest: Sendable, Hashable, Codable {
    package static let document = "node manifest"
    /// 1.1 added `tables[].opaqueFiles`; 1.2 added `origin`.
    package static let currentFormatVersion = FormatVersion(major: 1, minor: 2)

    package var formatVersion: FormatVersion
    package var cluster: ClusterName
    package var node: Node
    package var tag: SnapshotTag
    /// When `nodetool snapshot` ran on this node, by the node's clock. Manifests keep
    /// milliseconds, so the initializer rounds to them and a decoded copy compares equal.
    package var takenAt: Date
    /// Node-level files: `schema.cql` and `tokens.json`.
    package var nodeFiles: [File]
    package var tables: [Table]
    /// Who took the snapshot. Absent (before 1.2) means `.cluster`.
    package var origin: Origin

    /// A cluster snapshot's node manifest is kept while its cluster record is; without the
    /// record it is an orphan of an interrupted delete. A node snapshot (a tag an operator took
    /// with `nodetool snapshot`, written once it settled) has no record by design.
    package enum Origin: String, Sendable, Hashable, Codable {
        case cluster
        case node
    }

    package init(
        formatVersion: FormatVersion = currentFormatVersion, cluster: ClusterName, node: Node,
        tag: SnapshotTag,
        takenAt: Date, nodeFiles: [File], tables: [Table], origin: Origin = .cluster
    ) {
        self.formatVersion = formatVersion
        self.cluster = cluster
        self.node = node
        self.tag = tag
        self.takenAt = InstantFormat.normalized(takenAt)
        self.nodeFiles = nodeFiles
        self.tables = tables
        self.origin = origin
    }

    package struct Node: Sendable, Hashable, Codable {
        package var hostID: HostID
        package var hostname: String
        package var datacenter: String
        package var rack: String
        /// Tokens as Cassandra prints them; strings because RandomPartitioner tokens exceed 64 bits.
        package var tokens: [String]
        package var cassandraVersion: String
        /// Cassandra's own `cluster_name` (`nodetool describecluster`), which a restored
        /// `system.local` must match; since 1.1, absent when nodetool did not say.
        package var cassandraClusterName: String?

        package init(
            hostID: HostID, hostname: String, datacenter: String, rack: String, tokens: [String],
            cassandraVersion: String, cassandraClusterName: String? = nil
        ) {
            self.hostID = hostID
            self.hostname = hostname
            self.datacenter = datacenter
            self.rack = rack
            self.tokens = tokens
            self.cassandraVersion = cassandraVersion
            self.cassandraClusterName = cassandraClusterName
        }

        private enum CodingKeys: String, CodingKey {
            case hostID = "hostId", hostname, datacenter, rack, tokens, cassandraVersion, cassandraClusterName
        }
    }

    package struct Table: Sendable, Hashable, Codable {
        package var keyspace: String
        package var table: String
        /// Absent only for tables from before Cassandra 2.1, whose directories carry no id.
        package var tableID: TableID?
        /// `manifest.json` and `schema.cql` from the table's snapshot directory.
        package var snapshotFiles: [File]
        package var sstables: [SSTable]
        /// Every other file of the table's snapshot directory (since 1.1; absent means none).
        package var opaqueFiles: [OpaqueFile]

        package init(
            keyspace: String, table: String, tableID: TableID?, snapshotFiles: [File], sstables: [SSTable],
            opaqueFiles: [OpaqueFile] = []
        ) {
            self.keyspace = keyspace
            self.table = table
            self.tableID = tableID
            self.snapshotFiles = snapshotFiles
            self.sstables = sstables
            self.opaqueFiles = opaqueFiles
        }

        private enum CodingKeys: String, CodingKey {
            case keyspace, table, tableID = "tableId", snapshotFiles, sstables, opaqueFiles
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                keyspace: try container.decode(String.self, forKey: .keyspace),
                table: try container.decode(String.self, forKey: .table),
                tableID: try container.decodeIfPresent(TableID.self, forKey: .tableID),
                snapshotFiles: try container.decode([File].self, forKey: .snapshotFiles),
                sstables: try container.decode([SSTable].self, forKey: .sstables),
                opaqueFiles: try container.decodeIfPresent([OpaqueFile].self, forKey: .opaqueFiles) ?? [])
        }

        /// Leaves `opaqueFiles` out when empty, so a table without any encodes as in 1.0.
        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(keyspace, forKey: .keyspace)
            try container.encode(table, forKey: .table)
            try container.encodeIfPresent(tableID, forKey: .tableID)
            try container.encode(snapshotFiles, forKey: .snapshotFiles)
            try container.encode(sstables, forKey: .sstables)
            if !opaqueFiles.isEmpty { try container.encode(opaqueFiles, forKey: .opaqueFiles) }
        }
    }

    /// A snapshot file cassnap does not recognise (SAI, SASI, 1.2's `<table>.json`), shipped
    /// byte for byte and restored into `[.<index>/]<fileName>` of the table directory.
    package struct OpaqueFile: Sendable, Hashable, Codable {
        package var fileName: String
        /// The secondary index directory (`.<index>/`) it was found in, if any.
        package var index: String?
        package var size: Int64
        package var sha256: SHA256Digest
        /// A pool key when the name starts with an SSTable descriptor, else a key below the
        /// snapshot; may carry a `~sha256-…` collision suffix.
        package var objectKey: String

        package init(
            fileName: String, index: String? = nil, size: Int64, sha256: SHA256Digest, objectKey: String
        ) {
            self.fileName = fileName
            self.index = index
            self.size = size
            self.sha256 = sha256
            self.objectKey = objectKey
        }

        package var file: File { File(fileName: fileName, size: size, sha256: sha256, objectKey: objectKey) }
    }

    /// The component files of one SSTable (of the table, or of one of its secondary indexes).
    package struct SSTable: Sendable, Hashable, Codable {
        /// The descriptor name without component, e.g. `nb-42-big`.
        package var name: String
        /// The secondary index this SSTable belongs to; restored into `.<index>/`.
        package var index: String?
        package var files: [File]

        package init(name: String, index: String? = nil, files: [File]) {
            self.name = name
            self.index = index
            self.files = files
        }
    }

    package struct File: Sendable, Hashable, Codable {
        /// The name to restore the file under, e.g. `nb-42-big-Data.db`.
        package var fileName: String
        package var size: Int64
        package var sha256: SHA256Digest
        /// The full key in the bucket; may carry a `~sha256-…` collision suffix.
        package var objectKey: String

        package init(fileName: String, size: Int64, sha256: SHA256Digest, objectKey: String) {
            self.fileName = fileName
            self.size = size
            self.sha256 = sha256
            self.objectKey = objectKey
        }
    }

    private enum CodingKeys: String, CodingKey {
        case formatVersion, cluster, node, tag, takenAt, nodeFiles, tables, origin
    }

    package init(from decoder: any Decoder) throws {
        let version = try ManifestCoding.checkFormatVersion(
            in: decoder, document: Self.document, supportedMajor: Self.currentFormatVersion.major)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            formatVersion: version,
            cluster: try container.decode(ClusterName.self, forKey: .cluster),
            node: try container.decode(Node.self, forKey: .node),
            tag: try container.decode(SnapshotTag.self, forKey: .tag),
            takenAt: try container.decode(Date.self, forKey: .takenAt),
            nodeFiles: try container.decode([File].self, forKey: .nodeFiles),
            tables: try container.decode([Table].self, forKey: .tables),
            origin: try container.decodeIfPresent(Origin.self, forKey: .origin) ?? .cluster)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(formatVersion, forKey: .formatVersion)
        try container.encode(cluster, forKey: .cluster)
        try container.encode(node, forKey: .node)
        try container.encode(tag, forKey: .tag)
        try container.encode(takenAt, forKey: .takenAt)
        try container.encode(nodeFiles, forKey: .nodeFiles)
        try container.encode(tables, forKey: .tables)
        // Written only for node snapshots, so a cluster snapshot's manifest reads as before.
        if origin != .cluster { try container.encode(origin, forKey: .origin) }
    }
}

extension NodeManifest {
    /// The canonical bytes (sorted keys, trailing newline).
    package func encoded() -> Data { ManifestCoding.encode(self) }

    /// Decodes and validates; a manifest that passes can be restored without further checks
    /// on its names.
    package static func decode(from data: Data) throws(ManifestError) -> NodeManifest {
        let manifest = try ManifestCoding.decode(NodeManifest.self, from: data, document: document)
        try manifest.validate()
        return manifest
    }

    /// Every object in the manifest, for verification and pruning.
    package var allFiles: [File] {
        nodeFiles
            + tables.flatMap { table in
                table.snapshotFiles + table.sstables.flatMap(\.files) + table.opaqueFiles.map(\.file)
            }
    }

    package var totalSize: Int64 { allFiles.reduce(0) { $0 + $1.size } }

    /// Checks what JSON decoding cannot: names a restore would use, sizes, keys, grouping.
    package func validate() throws(ManifestError) {
        func invalid(_ detail: String) -> ManifestError {
            .invalidContent(document: Self.document, detail: detail)
        }
        func checkFile(_ file: File, at path: String) throws(ManifestError) {
            do {
                try RestorePath.validate(fileName: file.fileName)
                try RestorePath.validate(relativePath: file.objectKey)
            } catch {
                throw invalid("\(path): \(error)")
            }
            if file.size < 0 { throw invalid("\(path): size \(file.size) is negative") }
        }
        for (i, file) in nodeFiles.enumerated() {
            guard file.fileName == "schema.cql" || file.fileName == "tokens.json" else {
                throw invalid(
                    "nodeFiles[\(i)]: \(file.fileName.quotedForMessage) is not schema.cql or tokens.json")
            }
            try checkFile(file, at: "nodeFiles[\(i)]")
        }
        var seenTables: Set<String> = []
        for (t, table) in tables.enumerated() {
            let tablePath = "tables[\(t)]"
            do {
                try CassandraName.validate(table.keyspace, as: .keyspace)
                try CassandraName.validate(table.table, as: .table)
            } catch {
                throw invalid("\(tablePath): \(error)")
            }
            guard seenTables.insert("\(table.keyspace).\(table.table)").inserted else {
                throw invalid("\(tablePath): table \(table.keyspace).\(table.table) is listed twice")
            }
            for (f, file) in table.snapshotFiles.enumerated() {
                guard SnapshotMetadataFile(rawValue: file.fileName) != nil else {
                    throw invalid(
                        "\(tablePath).snapshotFiles[\(f)]: \(file.fileName.quotedForMessage) is not manifest.json or schema.cql"
                    )
                }
                try checkFile(file, at: "\(tablePath).snapshotFiles[\(f)]")
            }
            var seenFiles: Set<String> = []
            for (s, sstable) in table.sstables.enumerated() {
                let sstablePath = "\(tablePath).sstables[\(s)]"
                if let index = sstable.index {
                    do { try CassandraName.validate(index, as: .index) } catch {
                        throw invalid("\(sstablePath): \(error)")
                    }
                }
                if sstable.files.isEmpty { throw invalid("\(sstablePath): an SSTable without files") }
                for (f, file) in sstable.files.enumerated() {
                    let filePath = "\(sstablePath).files[\(f)]"
                    try checkFile(file, at: filePath)
                    let parsed: SSTableFileName
                    do { parsed = try SSTableFileName.parse(file.fileName) } catch {
                        throw invalid("\(filePath): \(error)")
                    }
                    guard parsed.sstableName == sstable.name else {
                        throw invalid(
                            "\(filePath): \(file.fileName.quotedForMessage) is not a component of \(sstable.name.quotedForMessage)"
                        )
                    }
                    if parsed.descriptor.isTemporary {
                        throw invalid("\(filePath): \(file.fileName.quotedForMessage) is a temporary file")
                    }
                    guard seenFiles.insert("\(sstable.index ?? "")/\(file.fileName)").inserted else {
                        throw invalid("\(filePath): \(file.fileName.quotedForMessage) is listed twice")
                    }
                }
            }
            for (o, opaque) in table.opaqueFiles.enumerated() {
                let filePath = "\(tablePath).opaqueFiles[\(o)]"
                if let index = opaque.index {
                    do { try CassandraName.validate(index, as: .index) } catch {
                        throw invalid("\(filePath): \(error)")
                    }
                } else if SnapshotMetadataFile(rawValue: opaque.fileName) != nil {
                    throw invalid(
                        "\(filePath): \(opaque.fileName.quotedForMessage) belongs in snapshotFiles")
                }
                try checkFile(opaque.file, at: filePath)
                do { _ = try OpaqueFileName(opaque.fileName) } catch {
                    throw invalid("\(filePath): \(error)")
                }
                guard seenFiles.insert("\(opaque.index ?? "")/\(opaque.fileName)").inserted else {
                    throw invalid("\(filePath): \(opaque.fileName.quotedForMessage) is listed twice")
                }
            }
        }
    }
}
