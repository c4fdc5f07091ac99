import CassnapCore
import CassnapObjectStore

extension Repository {
    /// Deletes a cluster snapshot from the bucket: its record first, then every node's
    /// `snapshots/<tag>/` (manifest, schema, tokens, per-table files). In this order a crash
    /// at any point is safe: with the record gone, `catalog rebuild` no longer sees the
    /// snapshot (it reads manifests only through records), and a manifest left behind is an
    /// orphan that a rerun of the delete or `prune` removes. The coordinator removes its
    /// catalog entry between the two steps, so its entry never outlives the record by more
    /// than one step and never lists manifests that are already gone.
    package func deleteRecord(of record: ClusterSnapshotRecord) async throws {
        do { try await store.delete(key: keys.key(for: .clusterSnapshotRecord(tag: record.tag))) } catch {
            throw RepositoryError(store: error, key: keys.key(for: .clusterSnapshotRecord(tag: record.tag)))
        }
    }

    /// The second step of a delete: every object under each node's `snapshots/<tag>/`.
    /// Answers how many objects went.
    @discardableResult
    package func deleteNodeSnapshots(tag: SnapshotTag, hosts: [HostID]) async throws -> Int {
        var deleted = 0
        for host in hosts {
            let prefix = keys.nodeSnapshotsRoot(host) + "\(tag)/"
            do {
                let keys = try await store.list(prefix: prefix).map(\.key)
                for batch in stride(from: 0, to: keys.count, by: 1000) {
                    try await store.delete(keys: Array(keys[batch..<min(batch + 1000, keys.count)]))
                }
                deleted += keys.count
            } catch {
                throw RepositoryError(store: error, key: prefix)
            }
        }
        return deleted
    }
}
