import CassnapCore
import CassnapObjectStore
import CassnapStoreFactory
import CassnapWatcher
import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Synchronization

/// The agent of one node, wired by `Agent.build`: watcher → ingestor → upload queue → shipper,
/// with a periodic reconcile. `run()` is the long-running service; `runOnce()` is the backfill.
package final class Agent: Service, Sendable {
    package let configuration: AgentConfiguration
    package let state: AgentState
    package let store: any ObjectStore
    package let host: HostID
    package let keys: ObjectKeys
    /// The coordinator's bearer token, read once at start (never logged).
    let coordinatorToken: String?
    let queue: UploadQueue
    let ingestor: Ingestor
    let shipper: Shipper
    let metrics = AgentMetrics()
    let logger: Logger
    /// Watcher batches ingested so far (tells the periodic work that memory was churned).
    private let activity = Atomic<Int>(0)

    init(
        configuration: AgentConfiguration, state: AgentState, store: any ObjectStore, host: HostID,
        keys: ObjectKeys, coordinatorToken: String? = nil, once: Bool, queueCapacity: Int,
        stats: ShipperStats = ShipperStats(), logger: Logger
    ) {
        self.configuration = configuration
        self.coordinatorToken = coordinatorToken
        self.state = state
        self.store = store
        self.host = host
        self.keys = keys
        self.logger = logger
        queue = UploadQueue(capacity: queueCapacity) { [state] after, limit in
            try await state.pendingPaths(afterRowID: after, limit: limit)
        }
        ingestor = Ingestor(configuration: configuration, state: state, queue: queue, logger: logger)
        shipper = Shipper(
            configuration: configuration, state: state, store: store, keys: keys, host: host, queue: queue,
            stats: stats, logger: logger, maxAttempts: once ? 4 : nil)
    }

    /// The one place that turns a configuration into a running agent (tests call it too).
    package static func build(
        configuration: AgentConfiguration, once: Bool = false, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        queueCapacity: Int = 4096
    ) async throws -> Agent {
        try configuration.validate(source: nil)
        // Only a configured coordinator needs the token; a bad token file stops the start here.
        let token =
            configuration.coordinator.url == nil
            ? nil : try configuration.coordinator.resolvedToken(environment: environment)
        let state = try AgentState(directory: configuration.stateDirectory)
        let host = try await NodeFacts.hostID(nodetool: configuration.nodetool).resolve(
            configured: configuration.hostID, state: state, logger: logger,
            hint: "set host_id in the configuration or --host-id")
        var settings = StoreSettings()
        settings.maxConcurrentRequests = max(8, configuration.upload.concurrency * 2)
        settings.bandwidthBytesPerSecond = configuration.upload.bandwidth?.bytesPerSecond
        settings.sessionStore = SQLiteUploadSessionStore(state: state)
        settings.partSize = configuration.upload.partSize?.bytes
        settings.multipartThreshold = configuration.upload.multipartThreshold?.bytes
        let stats = ShipperStats()
        settings.onRetry = { [logger] operation, key, error, attempt in
            stats.retries.add(1, ordering: .relaxed)
            logger.warning(
                "Retrying a store request",
                metadata: [
                    "store.operation": "\(operation)", "object.key": "\(key)", "error.message": "\(error)",
                    "retry.attempt": "\(attempt + 1)",
                ])
        }
        let store = try ObjectStoreFactory.open(
            url: configuration.store ?? "", settings: settings, environment: environment)
        let cluster = try await NodeFacts.clusterName(nodetool: configuration.nodetool).resolve(
            configured: configuration.cluster, state: state, logger: logger,
            hint: "set cluster in the configuration or --cluster")
        let keys = try ObjectKeys(prefix: "", cluster: cluster)
        var logger = logger
        logger[metadataKey: "node.host_id"] = "\(host)"
        return Agent(
            configuration: configuration, state: state, store: store, host: host, keys: keys,
            coordinatorToken: token, once: once, queueCapacity: queueCapacity, stats: stats, logger: logger)
    }

    // MARK: run

    package func run() async throws {
        logger.info(
            "Agent starting",
            metadata: [
                "store.url": "\(store.displayName)", "data.directories": "\(configuration.dataDirectories)",
                "state.path": "\(state.path)",
            ])
        try await refreshBucketListing()
        try await queuePendingRows()
        let watcher = try RecursiveWatcher(
            configuration: .init(roots: configuration.dataDirectories, shouldWatch: shouldWatch))
        let events = watcher.start()
        let stopped = StopFlag()

        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                // Graceful shutdown (SIGTERM) or cancellation: stop watching and hand out no more
                // work; uploads in flight finish, the rest stays pending in the database.
                try? await gracefulShutdown()
                self.logger.info("Agent draining: finishing uploads in flight")
                stopped.set()
                watcher.stop()
                await watcher.stopped()
                await self.queue.close()
                return true
            }
            group.addTask {
                await self.shipper.runWorkers()
                return true
            }
            group.addTask {
                for await batch in events {
                    do { try await self.ingestor.handle(batch) } catch {
                        self.logger.error(
                            "Could not record watcher events", metadata: ["error.message": "\(error)"])
                    }
                    // An idle watcher's once-a-second "caught up" is not work (no heap to trim).
                    if batch.contains(where: { if case .caughtUp = $0 { false } else { true } }) {
                        self.activity.add(1, ordering: .relaxed)
                    }
                }
                return true
            }
            group.addTask {
                await self.periodicWork(stopped: stopped, watches: { watcher.watchCount })
                return false
            }
            if self.configuration.watch.snapshots && self.configuration.snapshotSettle.seconds > 0 {
                let settled = SettledSnapshots(
                    agent: self, nodetool: Nodetool(executable: self.configuration.nodetool),
                    settle: self.configuration.snapshotSettle.duration, logger: self.logger)
                group.addTask {
                    await settled.run(stopped: { stopped.isSet })
                    return false
                }
            }
            if let link = self.coordinatorLink() {
                group.addTask {
                    await link.run(stopped: { stopped.isSet })
                    return false
                }
            }
            var finished = 0
            for await essential in group where essential {
                finished += 1
                if finished == 3 { group.cancelAll() }
            }
        }
        if configuration.metricsTextfile != nil { await writeMetrics(watches: 0) }
        logger.info("Agent stopped", metadata: summaryMetadata())
    }

    /// The connection to the coordinator, when one is configured; without it the agent works
    /// stand-alone and its reports wait in the outbox.
    private func coordinatorLink() -> CoordinatorLink? {
        guard let url = configuration.coordinator.url else { return nil }
        guard let token = coordinatorToken else {
            logger.error(
                "A coordinator is configured without a token; not connecting",
                metadata: [
                    "coordinator.url": "\(url)",
                    "hint": "set coordinator.token_file or \(AgentConfiguration.Coordinator.tokenVariable)",
                ])
            return nil
        }
        return CoordinatorLink(agent: self, url: url, token: token, logger: logger)
    }

    /// Work done so far, as a number that changes whenever the agent did something.
    private func workDone() -> Int {
        let s = shipper.stats
        return activity.load(ordering: .relaxed) + s.uploadedFiles.load(ordering: .relaxed)
            + s.aliases.load(ordering: .relaxed) + s.foundInBucket.load(ordering: .relaxed)
            + s.vanished.load(ordering: .relaxed) + s.failed.load(ordering: .relaxed)
    }

    private func periodicWork(stopped: StopFlag, watches: @Sendable () -> Int) async {
        var lastReconcile = ContinuousClock.now
        var lastReport = ContinuousClock.now
        var lastMetrics = ContinuousClock.now - .seconds(3600)
        var trimmedAt = -1
        while !Task.isCancelled && !stopped.isSet {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled || stopped.isSet { return }
            do { try await ingestor.recheckAllWaiting() } catch {
                logger.error("Could not recheck live SSTables", metadata: ["error.message": "\(error)"])
            }
            var interval = configuration.reconcileInterval.duration
            if await ingestor.watchLimitReached { interval = min(interval, .seconds(30)) }
            if ContinuousClock.now - lastReconcile >= interval {
                do { try await reconcile() } catch {
                    logger.error("Reconcile failed", metadata: ["error.message": "\(error)"])
                }
                lastReconcile = .now
                trimmedAt = -1  // the listing and the scan churned the heap
            }
            if configuration.metricsTextfile != nil, ContinuousClock.now - lastMetrics >= .seconds(15) {
                lastMetrics = .now
                await writeMetrics(watches: watches())
            }
            let queued = await queue.count
            let backlog = await queue.hasBacklogInDatabase
            if ContinuousClock.now - lastReport >= .seconds(30) {
                lastReport = .now
                var metadata = summaryMetadata()
                metadata["upload.queued"] =
                    backlog ? "\((try? state.statusCounts()[.pending]) ?? queued)" : "\(queued)"
                logger.info("Progress", metadata: metadata)
            }
            // Once a burst of work has drained, hand the heap pages it used back to the kernel.
            let work = workDone()
            if queued == 0 && !backlog && work != trimmedAt {
                trimmedAt = work
                MallocTuning.releaseFreeMemory()
            }
        }
    }

    private func summaryMetadata() -> Logger.Metadata {
        let s = shipper.stats
        return [
            "upload.files": "\(s.uploadedFiles.load(ordering: .relaxed))",
            "upload.bytes": "\(s.uploadedBytes.load(ordering: .relaxed))",
            "upload.aliases": "\(s.aliases.load(ordering: .relaxed))",
            "upload.found_in_bucket": "\(s.foundInBucket.load(ordering: .relaxed))",
            "upload.vanished": "\(s.vanished.load(ordering: .relaxed))",
            "upload.failed": "\(s.failed.load(ordering: .relaxed))",
            "upload.collisions": "\(s.collisions.load(ordering: .relaxed))",
        ]
    }

    // MARK: --once

    package struct OnceSummary: Sendable, CustomStringConvertible {
        package var uploaded: Int
        package var uploadedBytes: Int
        package var alreadyStored: Int
        package var vanished: Int
        package var failed: [String]
        package var pending: [String]
        /// Live SSTable components whose transaction never committed during the run.
        package var incomplete: [String]

        package var succeeded: Bool { failed.isEmpty && pending.isEmpty && incomplete.isEmpty }

        package var description: String {
            var text =
                "uploaded \(uploaded) files (\(uploadedBytes) bytes), \(alreadyStored) already stored, "
                + "\(vanished) vanished before upload, \(failed.count) failed, \(pending.count) still pending, "
                + "\(incomplete.count) live files incomplete"
            for path in failed.prefix(20) { text += "\n  failed: \(path)" }
            for path in pending.prefix(20) { text += "\n  pending: \(path)" }
            for path in incomplete.prefix(20) { text += "\n  incomplete: \(path)" }
            return text
        }
    }

    /// Scans, uploads everything pending and returns what happened (backfill, tablesnap `-B`).
    package func runOnce() async throws -> OnceSummary {
        try await refreshBucketListing()
        try await queuePendingRows(includingFailed: true)
        try await scanDisk()
        await queue.finishWhenDrained()
        await shipper.runWorkers()
        let s = shipper.stats
        let aliases = s.aliases.load(ordering: .relaxed) + s.foundInBucket.load(ordering: .relaxed)
        let summary = OnceSummary(
            uploaded: s.uploadedFiles.load(ordering: .relaxed),
            uploadedBytes: s.uploadedBytes.load(ordering: .relaxed),
            alreadyStored: aliases, vanished: s.vanished.load(ordering: .relaxed),
            failed: try state.paths(status: .failed).sorted(),
            pending: try state.paths(status: .pending).sorted(),
            // Only what was asked for: live files not shipped cannot leave the run incomplete.
            incomplete: configuration.watch.live ? await ingestor.waitingPaths() : [])
        await writeMetrics(watches: 0)
        logger.info("Backfill finished", metadata: summaryMetadata())
        return summary
    }

    // MARK: scanning and reconcile

    /// Directories to descend into: the layout's watched directories, minus filtered ones.
    var shouldWatch: @Sendable (String) -> Bool {
        let configuration = configuration
        return { path in
            guard
                let dataPath = try? DataPath.classify(
                    path: path, dataDirectories: configuration.dataDirectories, isDirectory: true),
                dataPath.isWatched
            else { return false }
            if let keyspace = dataPath.keyspace, !configuration.tables.allows(keyspace: keyspace) {
                return false
            }
            if let table = dataPath.table,
                !configuration.tables.allows(keyspace: table.keyspace, table: table.table)
            {
                return false
            }
            switch dataPath.kind {
            case .snapshotsDirectory: return configuration.watch.snapshots
            case .snapshotDirectory:
                return dataPath.snapshotTag.map { configuration.snapshotTags.shouldShip(tag: $0) } ?? false
            case .backupsDirectory: return configuration.watch.backups
            case .indexDirectory:
                if case .live = dataPath.location { return configuration.watch.live }
                return true
            default: return true
            }
        }
    }

    /// Every file below the data directories, fed to the ingestor like watcher events.
    func scanDisk() async throws {
        var batch: [WatchEvent] = []
        let filter = shouldWatch
        for root in configuration.dataDirectories {
            var stack = [root]
            while let directory = stack.popLast() {
                for entry in DirectoryListing.entries(of: directory) ?? [] {
                    if entry.hasInvalidName {
                        batch.append(.entrySkipped(entry.path, .nameNotUTF8))
                        continue
                    }
                    switch entry.kind {
                    case .directory: if filter(entry.path) { stack.append(entry.path) }
                    case .regularFile: batch.append(.fileAppeared(entry.path))
                    case .other(let kind): batch.append(.entrySkipped(entry.path, .notARegularFile(kind)))
                    }
                    if batch.count >= 4096 {
                        try await ingestor.handle(batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
            }
        }
        if !batch.isEmpty { try await ingestor.handle(batch) }
    }

    private func queuePendingRows(includingFailed: Bool = false) async throws {
        if includingFailed {
            try await state.pool.write { db in
                try db.execute(
                    cached: "UPDATE files SET status = 'pending', attempts = 0 WHERE status = 'failed'")
            }
        }
        await queue.rescanDatabase()
    }

    /// Replaces the cache of this node's keys with a fresh listing, read page by page into a
    /// temporary table (a node's listing is never held in memory). Keys this agent recorded
    /// after the listing started stay even if the listing missed them: their page may have been
    /// fetched before the upload, and forgetting them would let a reused name overwrite them.
    /// Objects this agent uploaded before the listing started but that the bucket no longer has
    /// go back to pending.
    func refreshBucketListing() async throws {
        let started = Date().timeIntervalSince1970
        let table = "temp.bucket_listing_\(UInt32.random(in: 0...UInt32.max))"
        try await state.pool.write { db in
            try db.execute(
                sql: "CREATE TABLE \(table) (key TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT)")
        }
        let lost: Int
        do {
            try await store.listPages(prefix: keys.nodeRoot(host)) { page in
                try await state.pool.write { db in
                    let insert = try db.makeStatement(
                        sql: "INSERT OR REPLACE INTO \(table) (key, size, sha256) VALUES (?, ?, ?)")
                    for object in page {
                        try insert.execute(arguments: [object.key, object.size, object.sha256])
                    }
                }
            }
            lost = try await state.pool.write { db -> Int in
                try db.execute(
                    sql: """
                        DELETE FROM bucket_objects WHERE key NOT IN (SELECT key FROM \(table))
                        AND (recorded_at IS NULL OR recorded_at < ?)
                        """,
                    arguments: [started])
                // A size that changed makes the remembered checksum stale.
                try db.execute(
                    sql: """
                        INSERT INTO bucket_objects (key, size, sha256)
                        SELECT key, size, sha256 FROM \(table) WHERE true
                        ON CONFLICT(key) DO UPDATE SET
                            sha256 = CASE WHEN excluded.sha256 IS NOT NULL THEN excluded.sha256
                                WHEN bucket_objects.size = excluded.size THEN bucket_objects.sha256 END,
                            size = excluded.size
                        """)
                let gone = try String.fetchAll(
                    db,
                    sql: """
                        SELECT object_key FROM objects
                        WHERE uploaded_at < ? AND object_key NOT IN (SELECT key FROM \(table))
                        """,
                    arguments: [started])
                for key in gone {
                    try db.execute(cached: "DELETE FROM objects WHERE object_key = ?", arguments: [key])
                    try db.execute(
                        cached: "UPDATE files SET status = 'pending', object_key = NULL WHERE object_key = ?",
                        arguments: [key])
                }
                try db.execute(sql: "DROP TABLE \(table)")
                return gone.count
            }
        } catch {
            try? await state.pool.write { db in try db.execute(sql: "DROP TABLE IF EXISTS \(table)") }
            throw error
        }
        metrics.lostObjects.add(lost, ordering: .relaxed)
        if lost > 0 {
            logger.warning(
                "Objects missing from the bucket will be uploaded again",
                metadata: ["objects.lost": "\(lost)"])
        }
    }

    /// Disk vs state vs bucket: finds what inotify missed, what the bucket lost, and forgets
    /// paths that are gone.
    package func reconcile() async throws {
        logger.debug("Reconcile starting")
        try await refreshBucketListing()
        try await scanDisk()
        try await ingestor.closeVanishedLiveSSTables()
        try await queuePendingRows(includingFailed: true)
        // Paths already handled that left the disk: their objects (and dedup rows) stay.
        // Read in windows of rowids, so a node of a million files is not held in memory.
        var after: Int64 = 0
        var forgotten = 0
        while true {
            let rows = try state.pool.read { db in
                try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT rowid, path FROM files WHERE status IN ('uploaded', 'vanished') AND rowid > ?
                            ORDER BY rowid LIMIT 4096
                            """),
                    arguments: [after])
            }
            guard let last = rows.last else { break }
            after = last[0]
            let gone = rows.map { $0[1] as String }.filter { FileIdentity.of(path: $0) == nil }
            if gone.isEmpty { continue }
            forgotten += gone.count
            try await state.pool.write { db in
                for path in gone {
                    try db.execute(
                        cached: "DELETE FROM files WHERE path = ? AND status IN ('uploaded', 'vanished')",
                        arguments: [path])
                }
            }
        }
        metrics.forgottenPaths.add(forgotten, ordering: .relaxed)
        metrics.reconciles.add(1, ordering: .relaxed)
        logger.debug("Reconcile finished", metadata: ["files.forgotten": "\(forgotten)"])
    }
}

final class StopFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
