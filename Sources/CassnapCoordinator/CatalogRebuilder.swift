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

    package init(
        store: any ObjectStore, keys: ObjectKeys, logger: Logger = Logger(label: "cassnap.coordinator")
    ) {
        self.store = store
        self.keys = keys
        self.logger = logger
    }

    /// Reads the bucket; unreadable records and manifests are logged and skipped, never fatal.
    package func read() async throws -> BucketContents {
        var records: [ClusterSnapshotRecord] = []
        var manifests: [SnapshotID: [HostID: NodeManifest]] = [:]
        for object in try await store.list(prefix: keys.clusterSnapshotsRoot)
        where object.key.hasSuffix(".json") {
            let record: ClusterSnapshotRecord
            do {
                record = try ClusterSnapshotRecord.decode(from: try await fetch(object.key))
            } catch {
                logger.warning(
                    "skipping unreadable cluster snapshot record",
                    metadata: ["object.key": "\(object.key)", "error": "\(error)"])
                continue
            }
            records.append(record)
            for node in record.nodes where node.status == .complete {
                guard let key = node.manifestKey else { continue }
                do {
                    let manifest = try NodeManifest.decode(from: try await fetch(key))
                    manifests[record.id, default: [:]][node.hostID] = manifest
                } catch {
                    logger.warning(
                        "skipping unreadable node manifest",
                        metadata: ["object.key": "\(key)", "error": "\(error)"])
                }
            }
        }
        return BucketContents(records: records, manifests: manifests)
    }

    package func rebuild(into catalog: any Catalog) async throws -> AdminAPI.RebuildResult {
        let contents = try await read()
        let result = try await catalog.replaceSnapshots(with: contents)
        logger.info(
            "catalog rebuilt from the bucket",
            metadata: [
                "snapshots": "\(result.snapshots)", "nodes": "\(result.nodes)", "files": "\(result.files)",
            ])
        return result
    }

    private func fetch(_ key: String) async throws -> Data {
        let path = NSTemporaryDirectory() + "/cassnap-rebuild-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try await store.get(key: key, to: path)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }
}
