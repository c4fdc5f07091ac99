/// One object cassnap stores, as its key names it (see docs/FORMAT.md).
package enum ObjectKey: Sendable, Hashable {
    /// `nodes/<host-id>/data/<ks>/<table-dir>/[.<index>/]<sstable file>[~sha256-<16 hex>]`
    case pooledFile(PooledFile)
    /// `nodes/<host-id>/snapshots/<tag>/manifest.json`, written last.
    case nodeManifest(host: HostID, tag: SnapshotTag)
    /// `nodes/<host-id>/snapshots/<tag>/schema.cql`: the node's full schema at snapshot time.
    case nodeSchema(host: HostID, tag: SnapshotTag)
    /// `nodes/<host-id>/snapshots/<tag>/tokens.json`
    case nodeTokens(host: HostID, tag: SnapshotTag)
    /// `nodes/<host-id>/snapshots/<tag>/<ks>/<table-dir>/{manifest.json,schema.cql}`: the files
    /// Cassandra put in the table's snapshot directory.
    case tableSnapshotFile(host: HostID, tag: SnapshotTag, table: TableRef, file: SnapshotMetadataFile)
    /// `nodes/<host-id>/snapshots/<tag>/<ks>/<table-dir>/[.<index>/]<name>[~sha256-<16 hex>]`: an
    /// opaque snapshot file that belongs to no SSTable (1.2's `<table>.json`).
    case snapshotOpaqueFile(SnapshotOpaqueFile)
    /// `snapshots/<tag>.json`
    case clusterSnapshotRecord(tag: SnapshotTag)
    /// `schedules/<name>.json`: a recurring snapshot, so `catalog rebuild` brings it back.
    case schedule(name: ScheduleName)
}
