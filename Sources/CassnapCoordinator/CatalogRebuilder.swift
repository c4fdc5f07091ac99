import CassnapAPI
import CassnapCore
import CassnapObjectStore
import CassnapRepository
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
        let repository = Repository(store: store, keys: keys, maximumDocumentBytes: maximumObjectBytes)
        let listing = try await repository.clusterSnapshots()
        var manifests: [SnapshotID: [HostID: NodeManifest]] = [:]
        var skipped: [AdminAPI.SkippedObject] = listing.unreadable.map { unreadable in
            AdminAPI.SkippedObject(key: unreadable.key, reason: unreadable.error.description)
        }
        for record in listing.records {
            for node in record.nodes where node.status == .complete {
                guard let key = node.manifestKey else { continue }
                let manifest: NodeManifest
                do {
                    manifest = try await repository.nodeManifest(key: key)
                } catch let error as RepositoryError {
                    if error.isRetryable { throw error }
                    skipped.append(AdminAPI.SkippedObject(key: key, reason: error.description))
                    continue
                }
                manifests[record.id, default: [:]][node.hostID] = manifest
            }
        }
        for object in skipped {
            logger.error(
                "Skipping unreadable object of the bucket",
                metadata: ["object.key": "\(object.key)", "error.message": "\(object.reason)"])
        }
        return BucketContents(records: listing.records, manifests: manifests, skipped: skipped)
    }

    /// Snapshots are replaced by the bucket's, and so are schedules (each with its next run
    /// planned from now, since when it last ran is not in the bucket).
    package func rebuild(into catalog: any RebuildCatalog & ScheduleCatalog, now: Date = Date()) async throws
        -> AdminAPI.RebuildResult
    {
        let contents = try await read()
        var result = try await catalog.replaceSnapshots(with: contents)
        result.skipped = contents.skipped
        let (count, skipped) = try await rebuildSchedules(into: catalog, now: now)
        result.schedules = count
        result.skipped += skipped
        logger.info(
            "Catalog rebuilt from the bucket",
            metadata: [
                "rebuild.snapshots": "\(result.snapshots)", "rebuild.nodes": "\(result.nodes)",
                "rebuild.files": "\(result.files)",
            ])
        return result
    }

    private func rebuildSchedules(into catalog: any ScheduleCatalog, now: Date) async throws -> (
        Int, [AdminAPI.SkippedObject]
    ) {
        let repository = Repository(store: store, keys: keys, maximumDocumentBytes: maximumObjectBytes)
        var found: [ScheduleName: Schedule] = [:]
        var skipped: [AdminAPI.SkippedObject] = []
        for object in try await store.list(prefix: keys.schedulesRoot) where object.key.hasSuffix(".json") {
            do {
                let schedule = try Schedule.decode(from: try await repository.readDocument(key: object.key))
                guard keys.key(for: .schedule(name: schedule.name)) == object.key,
                    schedule.cluster == keys.cluster
                else {
                    throw ManifestError.malformed(
                        document: "schedule", detail: "its name or cluster does not match the key")
                }
                found[schedule.name] = schedule
            } catch let error as RepositoryError where error.isRetryable {
                throw error
            } catch {
                logger.error(
                    "Skipping unreadable object of the bucket",
                    metadata: ["object.key": "\(object.key)", "error.message": "\(error)"])
                skipped.append(AdminAPI.SkippedObject(key: object.key, reason: "\(error)"))
            }
        }
        for existing in try await catalog.schedules() where found[existing.schedule.name] == nil {
            _ = try await catalog.deleteSchedule(existing.schedule.name)
        }
        for schedule in found.values {
            try await catalog.saveSchedule(
                schedule, nextRunAt: schedule.paused ? nil : schedule.nextRun(after: now))
        }
        return (found.count, skipped)
    }
}
