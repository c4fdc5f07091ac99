import CassnapAPI
import CassnapCore
import CassnapStore
import Foundation
import Logging

/// Recreates the snapshot part of a catalog from the bucket alone (invariant 5): every
/// cluster snapshot record under `<cluster>/snapshots/`, and the manifest of each node the
/// record says is complete. Registrations, heartbeats and live-SSTable events are not in the
/// bucket; nodes come back from their manifests and agents refresh the rest as they report.
package struct CatalogRebuilder: Sendable {
    package let store: any ObjectStore
    package let keys: ObjectKeys
    package let logger: Logger
    /// The largest record or manifest read (snapshots.max_manifest_bytes).
    package let maximumObjectBytes: Int64

    package init(
        store: any ObjectStore, keys: ObjectKeys, logger: Logger = Logger(label: "cassnap.coordinator"),
        maximumObjectBytes: Int64 = CoordinatorConfiguration.Snapshots().maximumManifestBytes
    ) {
        self.store = store
        self.keys = keys
        self.logger = logger
        self.maximumObjectBytes = maximumObjectBytes
    }

    /// Reads the bucket. An unreadable record or manifest is skipped, never fatal, but it is
    /// logged as an error and listed in `skipped`, so the rebuild's answer says what is missing.
    package func read() async throws -> BucketContents {
        var records: [ClusterSnapshotRecord] = []
        var manifests: [SnapshotID: [HostID: NodeManifest]] = [:]
        var skipped: [AdminAPI.SkippedObject] = []
        for object in try await store.list(prefix: keys.clusterSnapshotsRoot)
        where object.key.hasSuffix(".json") {
            let record: ClusterSnapshotRecord
            do {
                record = try ClusterSnapshotRecord.decode(
                    from: try await store.readSmallObject(key: object.key, limit: maximumObjectBytes))
            } catch {
                logger.error(
                    "skipping unreadable cluster snapshot record",
                    metadata: ["object.key": "\(object.key)", "error.message": "\(error)"])
                skipped.append(AdminAPI.SkippedObject(key: object.key, reason: "\(error)"))
                continue
            }
            records.append(record)
            for node in record.nodes where node.status == .complete {
                guard let key = node.manifestKey else { continue }
                do {
                    let manifest = try NodeManifest.decode(
                        from: try await store.readSmallObject(key: key, limit: maximumObjectBytes))
                    manifests[record.id, default: [:]][node.hostID] = manifest
                } catch {
                    logger.error(
                        "skipping unreadable node manifest",
                        metadata: ["object.key": "\(key)", "error.message": "\(error)"])
                    skipped.append(AdminAPI.SkippedObject(key: key, reason: "\(error)"))
                }
            }
        }
        return BucketContents(records: records, manifests: manifests, skipped: skipped)
    }

    package func rebuild(into catalog: any Catalog) async throws -> AdminAPI.RebuildResult {
        let contents = try await read()
        var result = try await catalog.replaceSnapshots(with: contents)
        result.skipped = contents.skipped
        logger.info(
            "catalog rebuilt from the bucket",
            metadata: [
                "snapshots": "\(result.snapshots)", "nodes": "\(result.nodes)", "files": "\(result.files)",
            ])
        return result
    }
}
