import CassnapAPI
import CassnapClient
import CassnapCore
import CassnapCrypto
import Foundation
import Logging

/// The agent's only connection to the coordinator, outbound: register, heartbeat (with this
/// node's clock), long-poll for commands, deliver the outbox. Every report is written to the
/// outbox first and deleted only after the coordinator accepted it, so an outage or a restart
/// of either side loses nothing; resending is harmless because reports carry ids.
struct CoordinatorLink: Sendable {
    let node: NodeContext
    /// Upload counters for the heartbeat.
    let stats: ShipperStats
    /// The stretch over which this node's live-SSTable events are complete.
    let liveHistory: @Sendable () async -> LiveHistory
    let client: CoordinatorClient
    let nodetool: Nodetool
    let logger: Logger
    var heartbeatInterval: Duration = .seconds(5)
    /// While the coordinator keeps failing, each loop warns at most this often.
    var failureWarningInterval: Duration = .seconds(60)

    init(
        node: NodeContext, stats: ShipperStats, liveHistory: @escaping @Sendable () async -> LiveHistory,
        url: String, token: String, caFile: String?, nodetool: Nodetool, logger: Logger
    ) {
        self.node = node
        self.stats = stats
        self.liveHistory = liveHistory
        client = CoordinatorClient(baseURL: url, token: token, caFile: caFile)
        self.nodetool = nodetool
        var logger = logger
        logger[metadataKey: "coordinator.url"] = "\(url)"
        self.logger = logger
    }

    /// Runs until `stopped` is set or the task is cancelled.
    func run(stopped: @escaping @Sendable () -> Bool) async {
        let info = await nodetool.nodeInfo()
        await register(info: info, stopped: stopped)
        let runner = SnapshotRunner(node: node, nodetool: nodetool, info: info, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeats(stopped: stopped) }
            group.addTask { await self.deliverOutbox(stopped: stopped) }
            group.addTask { await self.pollCommands(runner: runner, stopped: stopped) }
            await group.waitForAll()
        }
    }

    private func register(info: Nodetool.NodeInfo, stopped: () -> Bool) async {
        let registration = AgentAPI.Registration(
            hostID: node.host, hostname: ProcessInfo.processInfo.hostName,
            cluster: node.keys.cluster.rawValue,
            datacenter: info.datacenter, rack: info.rack, tokens: info.tokens,
            cassandraVersion: info.releaseVersion,
            dataDirectories: node.dataDirectories, agentVersion: CassnapVersion.string)
        var delay = 1.0
        var streak = FailureStreak(interval: failureWarningInterval)
        var mismatchReported = false
        while !stopped() && !Task.isCancelled {
            do {
                _ = try await client.register(registration)
                logger.info(
                    "Registered with the coordinator", metadata: ["cluster.name": "\(node.keys.cluster)"])
                return
            } catch CoordinatorClientError.api(409, "cluster_mismatch", let message) {
                // Retrying cannot fix it; say so once, with both names and the keys that do.
                if !mismatchReported {
                    mismatchReported = true
                    logger.error(
                        "The coordinator serves another cluster: not registering until the names agree",
                        metadata: [
                            "cluster.name": "\(node.keys.cluster)", "coordinator.answer": "\(message)",
                            "hint":
                                "set cluster in the agent's configuration (or --cluster) to the coordinator's cluster, or the other way round",
                        ])
                }
            } catch {
                failed(&streak, "Cannot register with the coordinator; retrying", error)
            }
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            delay = min(delay * 2, 30)
        }
    }

    private func heartbeats(stopped: () -> Bool) async {
        var streak = FailureStreak(interval: failureWarningInterval)
        while !stopped() && !Task.isCancelled {
            let counts = (try? await node.state.statusCounts()) ?? [:]
            let now = Date()
            let oldest = (try? await node.state.oldestPendingSince()) ?? nil
            let beat = AgentAPI.Heartbeat(
                agentTime: now, queuedFiles: counts[.pending] ?? 0,
                oldestQueuedAge: oldest.map { max(0, now.timeIntervalSince($0)) },
                uploadedFiles: stats.uploadedFiles.load(ordering: .relaxed),
                uploadedBytes: Int64(stats.uploadedBytes.load(ordering: .relaxed)),
                liveHistory: await deliveredLiveHistory())
            do {
                _ = try await client.heartbeat(node.host, beat)
                recovered(&streak, "Heartbeats to the coordinator recovered")
            } catch {
                failed(&streak, "Heartbeat failed", error)
            }
            try? await Task.sleep(for: heartbeatInterval)
        }
    }

    /// The watched stretch, clipped to what the coordinator has: events still in the outbox
    /// are not there yet, so the stretch ends just before the oldest of them.
    private func deliveredLiveHistory() async -> AgentAPI.LiveHistory? {
        guard let (since, through) = await liveHistory().interval else { return nil }
        let waiting: Date?
        do { waiting = try await node.state.oldestOutboxEntry(kind: .sstableEvents) } catch { return nil }
        let delivered = waiting.map { min(through, $0.addingTimeInterval(-0.001)) } ?? through
        return delivered >= since ? AgentAPI.LiveHistory(since: since, through: delivered) : nil
    }

    /// Long-polls for commands and starts each snapshot command once, however often the
    /// coordinator hands it out.
    private func pollCommands(runner: SnapshotRunner, stopped: @escaping @Sendable () -> Bool) async {
        await withTaskGroup(of: Void.self) { running in
            var streak = FailureStreak(interval: failureWarningInterval)
            // Commands this process runs now; the state says how far each got across restarts.
            var inFlight: Set<String> = []
            while !stopped() && !Task.isCancelled {
                let commands: [AgentAPI.Command]
                do {
                    commands = try await client.commands(node.host, wait: 5)
                    recovered(&streak, "Polling for commands recovered")
                } catch {
                    failed(&streak, "Polling for commands failed", error)
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                for command in commands {
                    guard let snapshot = command.snapshot, !inFlight.contains(command.id) else { continue }
                    let key = SnapshotRunner.progressKey(command.id)
                    let progress = SnapshotRunner.Progress((try? await node.state.meta(key)) ?? nil)
                    // Done: the report is in the outbox. Otherwise new, or left by a killed node.
                    if progress == .done { continue }
                    inFlight.insert(command.id)
                    logger.info(
                        progress == .new
                            ? "Snapshot command received" : "Snapshot command resumed after a restart",
                        metadata: [
                            "snapshot.tag": "\(snapshot.tag)",
                            "snapshot.at": "\(InstantFormat.format(snapshot.at))",
                        ])
                    running.addTask {
                        let report = await runner.execute(snapshot, commandID: command.id, progress: progress)
                        do {
                            try await self.queueManifestReport(report)
                            try await self.node.state.setMeta(key, SnapshotRunner.Progress.done.text)
                        } catch {
                            self.logger.error(
                                "Could not queue the manifest report", metadata: ["error.message": "\(error)"]
                            )
                        }
                    }
                }
            }
            await running.waitForAll()
        }
    }

    func queueManifestReport(_ report: AgentAPI.ManifestReport) async throws {
        try await node.state.queueOutbox(kind: .manifests, report)
    }

    /// Sends the outbox oldest first, in batches of one kind. A batch's id is derived from its
    /// entries, so the same batch resent after a timeout is recognised as a duplicate.
    private func deliverOutbox(stopped: () -> Bool) async {
        let decoder = APICoding.decoder()
        var streak = FailureStreak(interval: failureWarningInterval)
        while !Task.isCancelled {
            let entries = (try? await node.state.outbox(limit: 1000)) ?? []
            guard let kind = entries.first?.kind else {
                if stopped() { return }
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            let batch = Array(entries.prefix { $0.kind == kind })
            let reportID = Digest.sha256(Array(batch.map(\.reportID).joined(separator: ",").utf8)).hexString
            do {
                switch AgentAPI.ReportKind(rawValue: kind) {
                case .files:
                    let items = try batch.map {
                        try decoder.decode(AgentAPI.FileReport.self, from: $0.payload)
                    }
                    _ = try await client.reportFiles(node.host, .init(reportID: reportID, items: items))
                case .sstableEvents:
                    let items = try batch.map {
                        try decoder.decode(AgentAPI.SSTableEvent.self, from: $0.payload)
                    }
                    _ = try await client.reportSSTableEvents(
                        node.host, .init(reportID: reportID, items: items))
                case .manifests:
                    let items = try batch.map {
                        try decoder.decode(AgentAPI.ManifestReport.self, from: $0.payload)
                    }
                    _ = try await client.reportManifests(node.host, .init(reportID: reportID, items: items))
                case .nodeSnapshots:
                    let items = try batch.map {
                        try decoder.decode(AgentAPI.NodeSnapshotReport.self, from: $0.payload)
                    }
                    _ = try await client.reportNodeSnapshots(
                        node.host, .init(reportID: reportID, items: items))
                case nil:
                    logger.error(
                        "Dropping an outbox entry of unknown kind", metadata: ["outbox.kind": "\(kind)"])
                }
                try await node.state.deleteOutbox(ids: batch.map(\.id))
                recovered(&streak, "Delivering reports recovered")
            } catch let error as CoordinatorClientError where !error.isRetryable {
                // The coordinator refused the batch for good (a bug, not an outage): keep it for
                // an operator to see, but do not block later reports behind it forever.
                logger.error(
                    "The coordinator refused a report batch", metadata: ["error.message": "\(error)"])
                try? await Task.sleep(for: .seconds(5))
            } catch {
                if stopped() { return }
                failed(&streak, "Delivering reports failed; retrying", error)
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// An outage or a 5xx is worth a warning, paced by the streak so it cannot flood the log.
    private func failed(_ streak: inout FailureStreak, _ message: Logger.Message, _ error: any Error) {
        guard let count = streak.failed() else { return }
        logger.warning(
            message, metadata: ["error.message": "\(error)", "failures.since_last_warning": "\(count)"])
    }

    private func recovered(_ streak: inout FailureStreak, _ message: Logger.Message) {
        guard let streak = streak.succeeded() else { return }
        logger.info(
            message,
            metadata: ["failures.total": "\(streak.failures)", "failures.duration": "\(streak.duration)"])
    }
}
