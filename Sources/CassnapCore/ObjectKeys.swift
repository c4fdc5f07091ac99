/// The bucket layout of one cluster (docs/FORMAT.md):
/// ```
/// <cluster>/nodes/<host-id>/data/<keyspace>/<table>-<id>/<sstable file>   shared pool, per node
/// <cluster>/nodes/<host-id>/snapshots/<tag>/manifest.json                  node manifest, last
/// <cluster>/nodes/<host-id>/snapshots/<tag>/tokens.json
/// <cluster>/nodes/<host-id>/snapshots/<tag>/<ks>/<table-dir>/[.<index>/]<opaque file>
/// <cluster>/snapshots/<tag>.json                                           cluster snapshot record
/// <cluster>/schedules/<name>.json                                          recurring snapshot
/// ```
/// Invariant 3 (never overwrite different bytes): the uploader first tries the primary pool
/// key; if it holds other bytes (same name, other SHA-256), it uses the collision key, which
/// appends `~sha256-<first 16 hex digits>`. Manifests record the key actually used.
package struct ObjectKeys: Sendable, Hashable {
    package let cluster: ClusterName

    /// Keys are relative to the store's root: a prefix is the store URL's path
    /// (`s3://bucket/backups`), the one place it is set, for agents and coordinator alike.
    package init(cluster: ClusterName) {
        self.cluster = cluster
    }

    /// `<cluster>/`: everything of this cluster is below it.
    package var clusterRoot: String { cluster.rawValue + "/" }

    /// `<cluster>/nodes/<host-id>/`, for listing one node's objects.
    package func nodeRoot(_ host: HostID) -> String { clusterRoot + "nodes/\(host)/" }

    /// `<cluster>/snapshots/`, for listing cluster snapshot records.
    package var clusterSnapshotsRoot: String { clusterRoot + "snapshots/" }

    /// `<cluster>/schedules/`: one document per schedule.
    package var schedulesRoot: String { clusterRoot + "schedules/" }

    /// `<cluster>/nodes/<host-id>/snapshots/`, for listing one node's snapshots.
    package func nodeSnapshotsRoot(_ host: HostID) -> String { nodeRoot(host) + "snapshots/" }

    package func key(for object: ObjectKey) -> String {
        switch object {
        case .pooledFile(let pooled):
            let index = pooled.indexName.map { ".\($0)/" } ?? ""
            return nodeRoot(pooled.host) + "data/\(pooled.table.keyspace)/\(pooled.table.directory.name)/"
                + index + pooled.objectName
        case .nodeManifest(let host, let tag):
            return nodeSnapshotsRoot(host) + "\(tag)/manifest.json"
        case .nodeSchema(let host, let tag):
            return nodeSnapshotsRoot(host) + "\(tag)/schema.cql"
        case .nodeTokens(let host, let tag):
            return nodeSnapshotsRoot(host) + "\(tag)/tokens.json"
        case .tableSnapshotFile(let host, let tag, let table, let file):
            return nodeSnapshotsRoot(host)
                + "\(tag)/\(table.keyspace)/\(table.directory.name)/\(file.rawValue)"
        case .snapshotOpaqueFile(let opaque):
            let index = opaque.indexName.map { ".\($0)/" } ?? ""
            return nodeSnapshotsRoot(opaque.host)
                + "\(opaque.tag)/\(opaque.table.keyspace)/\(opaque.table.directory.name)/" + index
                + opaque.objectName
        case .clusterSnapshotRecord(let tag):
            return clusterSnapshotsRoot + "\(tag).json"
        case .schedule(let name):
            return schedulesRoot + "\(name).json"
        }
    }

    /// The key to try first for an opaque snapshot file stored with its snapshot.
    package func primaryKey(for file: SnapshotOpaqueFile) -> String {
        key(for: .snapshotOpaqueFile(file.primary))
    }

    /// Its key when the primary one already holds other bytes.
    package func collisionKey(for file: SnapshotOpaqueFile, sha256: SHA256Digest) -> String {
        key(for: .snapshotOpaqueFile(file.withCollisionSuffix(for: sha256)))
    }

    /// The key to try first for a pool file.
    package func primaryKey(for file: PooledFile) -> String { key(for: .pooledFile(file.primary)) }

    /// The key for a pool file whose primary key already holds bytes with another checksum.
    package func collisionKey(for file: PooledFile, sha256: SHA256Digest) -> String {
        key(for: .pooledFile(file.withCollisionSuffix(for: sha256)))
    }

    /// Parses a key of this cluster back into its parts; `key(for: parse(k)) == k`.
    package func parse(_ key: String) throws(ObjectKeyError) -> ObjectKey {
        try RestorePath.validate(relativePath: key)
        guard key.hasPrefix(clusterRoot) else { throw .outsideCluster(key: key, clusterRoot: clusterRoot) }
        let segments = key.dropFirst(clusterRoot.count).split(
            separator: "/", omittingEmptySubsequences: false)
        switch (segments.first, segments.count) {
        case ("snapshots", 2):
            guard segments[1].hasSuffix(".json") else {
                throw .unrecognized(key: key, reason: "cluster snapshot records end in \".json\"")
            }
            let tag = try Self.segment(of: key) { () throws(ValidationError) in
                try SnapshotTag(String(segments[1].dropLast(5)))
            }
            return .clusterSnapshotRecord(tag: tag)
        case ("schedules", 2):
            guard segments[1].hasSuffix(".json") else {
                throw .unrecognized(key: key, reason: "schedules end in \".json\"")
            }
            let name = try Self.segment(of: key) { () throws(ValidationError) in
                try ScheduleName(String(segments[1].dropLast(5)))
            }
            return .schedule(name: name)
        case ("nodes", 5...):
            let host = try Self.segment(of: key) { () throws(ValidationError) in
                try HostID(canonical: String(segments[1]))
            }
            switch segments[2] {
            case "snapshots":
                return try parseSnapshotKey(key, host: host, parts: Array(segments[3...]))
            case "data":
                return try parsePoolKey(key, host: host, parts: Array(segments[3...]))
            default:
                throw .unrecognized(key: key, reason: "expected \"data\" or \"snapshots\" after the host ID")
            }
        default:
            throw .unrecognized(key: key, reason: "expected nodes/<host-id>/… or snapshots/<tag>.json")
        }
    }

    private func parseSnapshotKey(_ key: String, host: HostID, parts: [Substring]) throws(ObjectKeyError)
        -> ObjectKey
    {
        let tag = try Self.segment(of: key) { () throws(ValidationError) in try SnapshotTag(String(parts[0]))
        }
        switch parts.count {
        case 2:
            switch parts[1] {
            case "manifest.json": return .nodeManifest(host: host, tag: tag)
            case "schema.cql": return .nodeSchema(host: host, tag: tag)
            case "tokens.json": return .nodeTokens(host: host, tag: tag)
            default: break
            }
        case 4, 5:
            let table = try Self.segment(of: key) { () throws(ValidationError) in
                try TableRef(keyspace: String(parts[1]), directory: TableDirectory(parsing: String(parts[2])))
            }
            if parts.count == 4, let file = SnapshotMetadataFile(rawValue: String(parts[3])) {
                return .tableSnapshotFile(host: host, tag: tag, table: table, file: file)
            }
            var indexName: String?
            if parts.count == 5 {
                guard parts[3].hasPrefix(".") else { break }
                let name = String(parts[3].dropFirst())
                try Self.segment(of: key) { () throws(ValidationError) in
                    try CassandraName.validate(name, as: .index)
                }
                indexName = name
            }
            if let opaque = SnapshotOpaqueFile.parsed(
                host: host, tag: tag, table: table, indexName: indexName, objectName: parts.last!)
            {
                return .snapshotOpaqueFile(opaque)
            }
        default: break
        }
        throw .unrecognized(
            key: key,
            reason: "expected snapshots/<tag>/{manifest.json,schema.cql,tokens.json} or "
                + "snapshots/<tag>/<keyspace>/<table-dir>/[.<index>/]<file>")
    }

    private func parsePoolKey(_ key: String, host: HostID, parts: [Substring]) throws(ObjectKeyError)
        -> ObjectKey
    {
        guard parts.count == 3 || parts.count == 4 else {
            throw .unrecognized(
                key: key, reason: "expected data/<keyspace>/<table-dir>/[.<index>/]<sstable file>")
        }
        let table = try Self.segment(of: key) { () throws(ValidationError) in
            try TableRef(keyspace: String(parts[0]), directory: TableDirectory(parsing: String(parts[1])))
        }
        var indexName: String?
        if parts.count == 4 {
            guard parts[2].hasPrefix(".") else {
                throw .unrecognized(key: key, reason: "an index directory segment starts with \".\"")
            }
            let name = String(parts[2].dropFirst())
            try Self.segment(of: key) { () throws(ValidationError) in
                try CassandraName.validate(name, as: .index)
            }
            indexName = name
        }
        guard
            let pooled = PooledFile.parsed(
                host: host, table: table, indexName: indexName, objectName: parts.last!)
        else {
            throw .unrecognized(
                key: key,
                reason:
                    "the last segment is not an SSTable file name (or an opaque file of an SSTable) "
                    + "with an optional ~sha256-<16 hex>")
        }
        return .pooledFile(pooled)
    }

    /// Runs a segment's validation, reporting a failure as a problem of the whole key.
    private static func segment<T>(of key: String, _ make: () throws(ValidationError) -> T)
        throws(ObjectKeyError) -> T
    {
        do { return try make() } catch { throw .invalidSegment(key: key, error: error) }
    }
}
