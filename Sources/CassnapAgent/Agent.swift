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
        let keys = ObjectKeys(cluster: cluster)
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
            configuration: .init(
                roots: configuration.dataDirectories,
                shouldWatch: { [filter = WatchFilter(configuration: configuration)] in
                    filter.shouldDescend(into: $0)
                }))
        let events = watcher.start()
        let stopped = StopFlag()

        await withDiscardingTaskGroup { helpers in
            helpers.addTask { await self.periodicWork(stopped: stopped, watches: { watcher.watchCount }) }
            if self.configuration.watch.snapshots && self.configuration.snapshotSettle.seconds > 0 {
                let settled = SettledSnapshots(
                    node: self.context, tagFilter: self.configuration.snapshotTags,
                    nodetool: Nodetool(executable: self.configuration.nodetool),
                    settle: self.configuration.snapshotSettle.duration, logger: self.logger)
                helpers.addTask { await settled.run(stopped: { stopped.isSet }) }
            }
            if let link = self.coordinatorLink() {
                helpers.addTask { await link.run(stopped: { stopped.isSet }) }
            }
            // The pipeline: it ends when the shutdown has stopped the watcher and every upload in
            // flight has finished. The helpers above serve it and stop with it.
            await withDiscardingTaskGroup { pipeline in
                pipeline.addTask {
                    // Graceful shutdown (SIGTERM) or cancellation: stop watching and hand out no
                    // more work; uploads in flight finish, the rest stays pending in the database.
                    try? await gracefulShutdown()
                    self.logger.info("Agent draining: finishing uploads in flight")
                    stopped.set()
                    watcher.stop()
                    await watcher.stopped()
                    await self.queue.close()
                }
                pipeline.addTask { await self.shipper.runWorkers() }
                pipeline.addTask { await self.ingest(events) }
            }
            helpers.cancelAll()
        }
        if configuration.metricsTextfile != nil { await writeMetrics(watches: 0) }
        logger.info("Agent stopped", metadata: summaryMetadata())
    }

    /// Records watcher batches until the watcher stops.
    private func ingest(_ events: AsyncStream<[WatchEvent]>) async {
        for await batch in events {
            do { try await ingestor.handle(batch) } catch {
                logger.error("Could not record watcher events", metadata: ["error.message": "\(error)"])
            }
            // An idle watcher's once-a-second "caught up" is not work (no heap to trim).
            if batch.contains(where: { if case .caughtUp = $0 { false } else { true } }) {
                activity.add(1, ordering: .relaxed)
            }
        }
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
        return coordinatorLink(url: url, token: token, logger: logger)
    }

    func coordinatorLink(url: String, token: String, logger: Logger) -> CoordinatorLink {
        CoordinatorLink(
            node: context, stats: shipper.stats, liveHistory: { [ingestor] in await ingestor.liveHistory },
            url: url, token: token, caFile: configuration.coordinator.caFile,
            nodetool: Nodetool(executable: configuration.nodetool), logger: logger)
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
                // Past the queue's window, the pending rows say how many wait.
                let pending = backlog ? (try? await state.statusCounts())?[.pending] : nil
                var metadata = summaryMetadata()
                metadata["upload.queued"] = "\(pending ?? queued)"
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

    func summaryMetadata() -> Logger.Metadata {
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
}

final class StopFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
