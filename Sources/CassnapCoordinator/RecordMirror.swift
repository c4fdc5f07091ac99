import CassnapCore
import CassnapObjectStore
import Logging

/// Writes cluster snapshot records to the bucket, newest revision last: one writer at a time,
/// and a flush requested during a run makes the run go round once more.
package actor RecordMirror {
    private let catalog: any MirrorCatalog
    private let store: any ObjectStore
    private let keys: ObjectKeys
    private let logger: Logger
    private var running = false
    private var again = false

    init(catalog: any MirrorCatalog, store: any ObjectStore, keys: ObjectKeys, logger: Logger) {
        self.catalog = catalog
        self.store = store
        self.keys = keys
        self.logger = logger
    }

    package func flush() async {
        if running {
            again = true
            return
        }
        running = true
        defer { running = false }
        repeat {
            again = false
            await writePending()
        } while again
    }

    private func writePending() async {
        do {
            for (record, revision) in try await catalog.unmirroredRecords() {
                let key = keys.key(for: .clusterSnapshotRecord(tag: record.tag))
                _ = try await store.put(
                    key: key, source: .bytes(Array(record.encoded())),
                    options: PutOptions(contentType: "application/json"))
                try await catalog.markMirrored(record.id, revision: revision)
                if record.status != .pending {
                    logger.info(
                        "Cluster snapshot record written",
                        metadata: [
                            "snapshot.tag": "\(record.tag)", "snapshot.status": "\(record.status.rawValue)",
                            "object.key": "\(key)",
                        ])
                }
            }
        } catch {
            // The scheduler tries again on its next tick.
            logger.warning("Cannot write cluster snapshot records", metadata: ["error.message": "\(error)"])
        }
    }
}
