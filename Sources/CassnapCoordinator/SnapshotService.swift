import CassnapAPI
import CassnapCore
import CassnapObjectStore
import CassnapRepository
import Foundation
import Logging

/// Cluster snapshots at an instant: plans them, verifies what nodes report, and keeps the
/// bucket's cluster snapshot records in step with the catalog.
package struct SnapshotService: Sendable {
    package let catalog: any NodeCatalog & ReportCatalog & SnapshotCatalog & MirrorCatalog
    package let store: any ObjectStore
    package let keys: ObjectKeys
    package let settings: CoordinatorConfiguration.Snapshots
    package let signal: CommandSignal
    package let mirror: RecordMirror
    package let logger: Logger
    package let repository: Repository
    /// Manifests read into memory at once: each may be up to `maximumManifestBytes`.
    private let manifestReads = BodyGate(permits: 2)

    package init(
        catalog: any NodeCatalog & ReportCatalog & SnapshotCatalog & MirrorCatalog, store: any ObjectStore,
        keys: ObjectKeys,
        settings: CoordinatorConfiguration.Snapshots,
        logger: Logger
    ) {
        self.catalog = catalog
        self.store = store
        self.keys = keys
        self.settings = settings
        self.repository = Repository(
            store: store, keys: keys, maximumDocumentBytes: settings.maximumManifestBytes)
        self.signal = CommandSignal()
        self.mirror = RecordMirror(catalog: catalog, store: store, keys: keys, logger: logger)
        self.logger = logger
    }

    // MARK: Create

    /// Validates the request completely before anything is written, so bad input changes nothing.
    package func create(_ request: AdminAPI.CreateSnapshot, now: Date) async throws -> AdminAPI.SnapshotDetail
    {
        let instant: Date
        switch (request.at, request.delaySeconds) {
        case (nil, nil):
            throw ServiceError.invalidField("at", "give the instant (at) or a delay (delaySeconds)")
        case (_?, _?):
            throw ServiceError.invalidField("at", "give either at or delaySeconds, not both")
        case (let at?, nil):
            guard at > now else {
                throw ServiceError.invalidField(
                    "at",
                    "\(InstantFormat.format(at)) is in the past (coordinator time \(InstantFormat.format(now)))"
                )
            }
            guard at.timeIntervalSince(now) <= InputLimits.maximumLeadSeconds else {
                throw ServiceError.invalidField(
                    "at",
                    "\(InstantFormat.format(at)) is more than a year ahead (coordinator time \(InstantFormat.format(now)))"
                )
            }
            instant = at
        case (nil, let delay?):
            if let problem = InputLimits.problem(seconds: delay, maximum: InputLimits.maximumLeadSeconds) {
                throw ServiceError.invalidField("delaySeconds", problem)
            }
            instant = now.addingTimeInterval(delay)
        }
        let keyspaces = request.keyspaces ?? []
        let tables = request.tables ?? []
        try Self.checkScope(keyspaces: keyspaces, tables: tables)
        let tag: SnapshotTag
        do {
            tag = try SnapshotTag(request.tag ?? Self.defaultTag(for: instant))
        } catch {
            throw ServiceError.invalidField("tag", error.description)
        }
        let window = request.deadlineSeconds ?? settings.deadlineSeconds
        if let problem = InputLimits.problem(seconds: window, maximum: InputLimits.maximumDeadlineSeconds) {
            throw ServiceError.invalidField("deadlineSeconds", problem)
        }
        let nodes = try await catalog.liveNodes(since: now.addingTimeInterval(-settings.liveNodeSeconds))
        guard !nodes.isEmpty else {
            throw ServiceError.conflict(
                "no_live_nodes",
                "no registered node sent a heartbeat in the last \(Int(settings.liveNodeSeconds)) s; nothing to snapshot"
            )
        }
        let id = SnapshotID()
        let record = ClusterSnapshotRecord(
            id: id, cluster: keys.cluster, tag: tag, requestedAt: instant,
            deadline: instant.addingTimeInterval(window),
            status: .pending, keyspaces: keyspaces, tables: tables, nodes: nodes)
        let command = AgentAPI.SnapshotCommand(
            snapshotID: id, tag: tag, at: record.requestedAt, deadline: record.deadline!,
            keyspaces: keyspaces,
            tables: tables, clearAfterUpload: settings.clearAfterUpload)
        let plan = SnapshotPlan(
            record: record,
            commands: nodes.map { ($0.hostID, AgentAPI.Command(id: "\(id):\($0.hostID)", snapshot: command)) }
        )
        do {
            try await catalog.createSnapshot(plan)
        } catch let error as CatalogError {
            throw ServiceError.conflict("tag_exists", error.description)
        }
        signal.ring()
        logger.info(
            "Cluster snapshot scheduled",
            metadata: [
                "snapshot.id": "\(id)", "snapshot.tag": "\(tag)",
                "snapshot.at": "\(InstantFormat.format(instant))",
                "snapshot.nodes": "\(nodes.count)",
            ])
        await mirror.flush()
        guard let detail = try await catalog.detail(id) else {
            throw ServiceError.notFound("snapshot", "\(id)")
        }
        return detail
    }

    /// `cassnap-20261123T020000.000Z`: sorts by time and names the instant.
    package static func defaultTag(for instant: Date) -> String {
        "cassnap-"
            + InstantFormat.format(instant).replacingOccurrences(of: "-", with: "")
            .replacingOccurrences(of: ":", with: "")
    }

    // MARK: Manifest reports

    /// Checks every item before anything is written; a store outage answers 503 so the agent
    /// resends, while a bad manifest fails the node for good.
    package func receiveManifests(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.ManifestReport>, now: Date)
        async throws -> AgentAPI.ReportReceipt
    {
        if try await catalog.isReportProcessed(batch.reportID) {
            return AgentAPI.ReportReceipt(reportID: batch.reportID, accepted: 0, duplicate: true)
        }
        var outcomes: [NodeOutcome] = []
        for (i, item) in batch.items.enumerated() {
            guard let record = try await catalog.nodeState(item.snapshotID, host: host) else {
                throw ServiceError.notFound("snapshot", item.snapshotID.description)
            }
            guard record.tag == item.tag else {
                throw ServiceError.invalidField(
                    "items[\(i)].tag", "snapshot \(record.id) has tag \(record.tag), not \(item.tag)")
            }
            guard let node = record.node else {
                throw ServiceError.conflict(
                    "not_expected", "node \(host) is not an expected node of snapshot \(record.id)")
            }
            guard record.status == .pending, node == .pending else { continue }
            if let error = item.error {
                outcomes.append(
                    NodeOutcome(snapshotID: record.id, result: .failed("agent reported: \(error)")))
                continue
            }
            let expectedKey = keys.key(for: .nodeManifest(host: host, tag: record.tag))
            guard let manifestKey = item.manifestKey else {
                throw ServiceError.invalidField("items[\(i)].manifestKey", "required unless error is set")
            }
            guard manifestKey == expectedKey else {
                throw ServiceError.invalidField(
                    "items[\(i)].manifestKey", "expected \(expectedKey), got \(manifestKey)")
            }
            outcomes.append(
                NodeOutcome(
                    snapshotID: record.id,
                    result: try await verify(host: host, tag: record.tag, manifestKey: manifestKey)))
        }
        let receipt = try await catalog.applyNodeOutcomes(
            reportID: batch.reportID, host: host, outcomes: outcomes, at: now)
        for outcome in outcomes {
            switch outcome.result {
            case .complete(_, _, let files):
                logger.info(
                    "Node snapshot verified",
                    metadata: [
                        "snapshot.id": "\(outcome.snapshotID)", "node.host_id": "\(host)",
                        "snapshot.files": "\(files.count)",
                    ])
            case .failed(let why):
                logger.warning(
                    "Node snapshot failed",
                    metadata: [
                        "snapshot.id": "\(outcome.snapshotID)", "node.host_id": "\(host)",
                        "error.message": "\(why)",
                    ])
            }
        }
        // A snapshot this batch settled goes to the bucket now; a pending one's progress waits
        // for the next tick, so one write covers every report in between instead of one write
        // of the whole record per node. `unmirroredRecords` keeps what a crash interrupts.
        var settled = false
        for id in Set(outcomes.map(\.snapshotID)) {
            if try await catalog.nodeState(id, host: host)?.status != .pending { settled = true }
        }
        if settled { await mirror.flush() }
        return receipt
    }

    /// Snapshots taken outside cassnap: each manifest is read and checked in the bucket as for a
    /// cluster snapshot, and recorded with the outcome (a manifest that does not verify is
    /// recorded with its error, so `node-snapshots` shows it instead of hiding it).
    package func receiveNodeSnapshots(
        _ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.NodeSnapshotReport>, now: Date
    ) async throws -> AgentAPI.ReportReceipt {
        if try await catalog.isReportProcessed(batch.reportID) {
            return AgentAPI.ReportReceipt(reportID: batch.reportID, accepted: 0, duplicate: true)
        }
        var verified: [AdminAPI.OperatorSnapshot] = []
        for (i, item) in batch.items.enumerated() {
            let expectedKey = keys.key(for: .nodeManifest(host: host, tag: item.tag))
            guard item.manifestKey == expectedKey else {
                throw ServiceError.invalidField(
                    "items[\(i)].manifestKey", "expected \(expectedKey), got \(item.manifestKey)")
            }
            var snapshot = AdminAPI.OperatorSnapshot(
                hostID: host, hostname: nil, tag: item.tag, manifestKey: item.manifestKey,
                takenAt: item.takenAt,
                files: item.files, bytes: item.bytes, verifiedAt: now, error: nil)
            switch try await verify(host: host, tag: item.tag, manifestKey: item.manifestKey) {
            case .complete(let takenAt, _, let files):
                snapshot.takenAt = takenAt
                snapshot.files = files.count
                snapshot.bytes = files.reduce(0) { $0 + $1.size }
                logger.info(
                    "Node snapshot taken outside cassnap verified",
                    metadata: [
                        "node.host_id": "\(host)", "snapshot.tag": "\(item.tag)",
                        "snapshot.files": "\(files.count)",
                    ])
            case .failed(let why):
                snapshot.error = why
                logger.warning(
                    "Node snapshot taken outside cassnap failed verification",
                    metadata: [
                        "node.host_id": "\(host)", "snapshot.tag": "\(item.tag)", "error.message": "\(why)",
                    ])
            }
            verified.append(snapshot)
        }
        return try await catalog.recordNodeSnapshots(
            host, AgentAPI.Batch(reportID: batch.reportID, items: verified), at: now)
    }

    /// Reads the manifest from the bucket, validates it, and confirms in the bucket that each
    /// object it lists exists with the listed size (`Repository.checkObjects`). Pool reports
    /// are not trusted for this: the agent token is shared by every node, so a report could
    /// vouch for objects of another host.
    func verify(host: HostID, tag: SnapshotTag, manifestKey: String) async throws -> NodeOutcome.Result {
        do {
            let manifest = try await manifestReads.withPermit {
                try await repository.nodeManifest(host: host, tag: tag)
            }
            if let problem = try await repository.checkObjects(of: manifest).first {
                return .failed(problem.description)
            }
            return .complete(
                takenAt: manifest.takenAt, manifestKey: manifestKey, files: SnapshotFile.files(of: manifest))
        } catch let error as RepositoryError where error.isRetryable {
            throw ServiceError.unavailable("\(error)")
        } catch let error as RepositoryError {
            if case .documentTooLarge = error {
                return .failed("manifest \(error); raise snapshots.max_manifest_bytes to accept it")
            }
            return .failed("manifest \(error)")
        }
    }

    /// Keyspace names, and tables as `<keyspace>.<table>`; a 400 naming the first bad one.
    static func checkScope(keyspaces: [String], tables: [String]) throws {
        for (i, keyspace) in keyspaces.enumerated() {
            do { try CassandraName.validate(keyspace, as: .keyspace) } catch {
                throw ServiceError.invalidField("keyspaces[\(i)]", error.description)
            }
        }
        for (i, qualified) in tables.enumerated() {
            let parts = qualified.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ CassandraName.isValid($0) }) else {
                throw ServiceError.invalidField(
                    "tables[\(i)]", "\(qualified.debugDescription) is not <keyspace>.<table>")
            }
        }
    }

    // MARK: Deadlines

    /// Settles snapshots whose deadline passed, and writes changed records to the bucket.
    package func tick(now: Date) async {
        do {
            let expired = try await catalog.expireSnapshots(at: now)
            if expired > 0 {
                logger.info("Snapshot deadlines passed", metadata: ["snapshots.expired": "\(expired)"])
            }
        } catch {
            logger.error("Cannot settle snapshot deadlines", metadata: ["error.message": "\(error)"])
        }
        await mirror.flush()
    }

    // MARK: Delete

    /// Record in the bucket, then the catalog entry, then the node manifests
    /// (`Repository.deleteRecord`): a crash between steps leaves neither a catalog entry
    /// without manifests nor manifests that a rebuild would bring back.
    package func delete(_ id: SnapshotID) async throws -> AdminAPI.SnapshotSummary? {
        guard let record = try await catalog.record(id) else { return nil }
        do {
            try await repository.deleteRecord(of: record)
            let summary = try await catalog.deleteSnapshot(id)
            try await repository.deleteNodeSnapshots(tag: record.tag, hosts: record.nodes.map(\.hostID))
            logger.info(
                "Cluster snapshot deleted",
                metadata: ["snapshot.id": "\(id)", "snapshot.tag": "\(record.tag)"])
            return summary
        } catch let error as RepositoryError {
            throw ServiceError.unavailable("cannot delete snapshot \(record.tag) from the bucket: \(error)")
        }
    }
}
