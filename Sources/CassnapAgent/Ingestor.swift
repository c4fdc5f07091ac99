import CassnapAPI
import CassnapCore
import CassnapWatcher
import Foundation
import Logging

/// Turns watcher events and scan results into `pending` rows and queued paths, one transaction
/// per batch. Everything it is told is idempotent: the same file seen twice (an event and a
/// listing, or a rescan) changes nothing the second time.
actor Ingestor {
    let configuration: AgentConfiguration
    let state: AgentState
    let queue: UploadQueue
    let logger: Logger
    private var gate = LiveSSTableGate()
    /// Live components seen before they were complete, by directory.
    private var waiting: [String: Set<String>] = [:]
    private(set) var watchLimitReached = false
    /// Entries already logged as skipped (or as an empty `Data.db`).
    private var reported = OncePerPath(capacity: 10_000)
    /// Opaque snapshot file names already logged.
    private var opaqueNames = OncePerPath(capacity: 10_000)
    /// The stretch of time over which this agent's live-SSTable events are complete.
    private(set) var liveHistory = LiveHistory()
    /// inotify overflows seen (each one a rescan), for the metrics.
    private(set) var overflows = 0

    init(configuration: AgentConfiguration, state: AgentState, queue: UploadQueue, logger: Logger) {
        self.configuration = configuration
        self.state = state
        self.queue = queue
        self.logger = logger
    }

    private struct LiveChange: Sendable {
        var directory: String
        var sstable: String
        var keyspace: String
        var table: TableRef
    }

    private struct Batch: Sendable {
        var candidates: [AgentState.SeenFile] = []
        var appeared: [LiveChange] = []
        var disappeared: [LiveChange] = []
    }

    /// Live SSTable components waiting for their transaction to commit.
    var waitingCount: Int { waiting.values.reduce(0) { $0 + $1.count } }

    func waitingPaths() -> [String] { waiting.values.flatMap { $0 }.sorted() }

    func handle(_ events: [WatchEvent]) async throws {
        gate.invalidateAll()
        var batch = Batch()
        var recheck: Set<String> = []
        var caughtUp: Date?
        for event in events {
            switch event {
            case .fileAppeared(let path), .fileClosed(let path):
                consider(path, into: &batch)
                if path.utf8.containsBytes("_txn_".utf8) { recheck.insert(Self.directory(of: path)) }
            case .fileRemoved(let path):
                removed(path, into: &batch, recheck: &recheck)
            case .directoryRemoved(let path):
                let prefix = path + "/"
                for directory in waiting.keys where directory == path || directory.hasPrefix(prefix) {
                    waiting[directory] = nil
                }
            case .overflow:
                logger.warning("Inotify queue overflowed: rescanning the data directories")
                liveHistory.interrupt()
                overflows += 1
            case .caughtUp(let instant):
                caughtUp = instant
            case .entrySkipped(let path, let reason):
                if shouldReportSkip(of: path) { reportSkipped(path, reason: reason.description) }
            case .watchLimitReached(let path):
                if !watchLimitReached {
                    logger.error(
                        "Out of inotify watches: raise fs.inotify.max_user_watches; falling back to periodic scans",
                        metadata: ["file.path": "\(path)"])
                }
                watchLimitReached = true
                liveHistory.end()
            }
        }
        for directory in recheck { recheckWaiting(in: directory, into: &batch) }
        try await record(batch)
        if let caughtUp { try await historyCaughtUp(caughtUp) }
    }

    /// Every change before `instant` is recorded. After a start or an overflow the history
    /// begins again only once removals missed meanwhile are closed, dated now.
    private func historyCaughtUp(_ instant: Date) async throws {
        guard !liveHistory.ended else { return }
        if liveHistory.since == nil {
            try await closeVanishedLiveSSTables()
            liveHistory.begin(at: Date())
        }
        liveHistory.through = max(liveHistory.through ?? instant, instant)
    }

    /// Looks again at every live component that was not complete (a missed event, a slow writer).
    func recheckAllWaiting() async throws {
        guard !waiting.isEmpty else { return }
        gate.invalidateAll()
        var batch = Batch()
        for directory in Array(waiting.keys) { recheckWaiting(in: directory, into: &batch) }
        try await record(batch)
    }

    private func recheckWaiting(in directory: String, into batch: inout Batch) {
        guard let paths = waiting.removeValue(forKey: directory) else { return }
        gate.invalidate(directory: directory)
        for path in paths { consider(path, into: &batch) }
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[..<slash])
    }

    private func consider(_ path: String, into batch: inout Batch) {
        guard
            let dataPath = try? DataPath.classify(
                path: path, dataDirectories: configuration.dataDirectories, isDirectory: false)
        else { return }
        // Transaction logs and temporary files are Cassandra at work, not worth a line each.
        if case .ignored(.unrecognized(let detail)) = dataPath.kind, ships(from: dataPath) {
            reportSkipped(path, reason: detail)
            return
        }
        guard dataPath.isShipped, let table = dataPath.table, let location = dataPath.location else { return }
        guard configuration.tables.allows(keyspace: table.keyspace, table: table.table) else { return }
        if let opaque = dataPath.opaqueFile, ships(from: dataPath) { reportOpaque(opaque, path: path) }
        switch location {
        case .snapshot(let tag):
            guard configuration.watch.snapshots, configuration.snapshotTags.shouldShip(tag: tag) else {
                return
            }
        case .backups:
            guard configuration.watch.backups else { return }
        case .live:
            guard let file = dataPath.sstable else { return }
            let directory = Self.directory(of: path)
            guard gate.isComplete(path: path, file: file) else {
                waiting[directory, default: []].insert(path)
                return
            }
            if file.component == .data && dataPath.indexName == nil {
                batch.appeared.append(
                    LiveChange(
                        directory: directory, sstable: file.sstableName, keyspace: table.keyspace,
                        table: table))
            }
            guard configuration.watch.live else { return }
        }
        guard let identity = FileIdentity.of(path: path) else {
            // Gone (nothing to say), or a FIFO or symbolic link created under a shipped name.
            if case .other(let kind) = DirectoryListing.kind(ofPath: path) {
                reportSkipped(path, reason: SkipReason.notARegularFile(kind).description)
            }
            return
        }
        if identity.size == 0, dataPath.sstable?.component == .data {
            reportEmptyDataFile(path)
        }
        batch.candidates.append(
            AgentState.SeenFile(
                path: path, location: AgentState.FileLocation(location), tag: dataPath.snapshotTag?.rawValue,
                identity: identity))
    }

    /// Whether the trees this agent ships hold `path`; entries above the table directories
    /// (a symbolic link where a keyspace or table directory should be) always count.
    private func shouldReportSkip(of path: String) -> Bool {
        guard
            let dataPath = try? DataPath.classify(
                path: path, dataDirectories: configuration.dataDirectories, isDirectory: false),
            dataPath.location != nil
        else { return true }
        return ships(from: dataPath)
    }

    private func ships(from dataPath: DataPath) -> Bool {
        guard let table = dataPath.table,
            configuration.tables.allows(keyspace: table.keyspace, table: table.table)
        else { return false }
        switch dataPath.location {
        case .snapshot(let tag):
            return configuration.watch.snapshots && configuration.snapshotTags.shouldShip(tag: tag)
        case .backups: return configuration.watch.backups
        case .live: return configuration.watch.live
        case nil: return false
        }
    }

    private func reportSkipped(_ path: String, reason: String) {
        guard admit(path) else { return }
        logger.notice(
            "Skipping an entry that cannot be shipped",
            metadata: ["file.path": "\(path.escapedForLog)", "skip.reason": "\(reason)"])
    }

    /// Once per file name: a snapshot ships whole, so a name cassnap does not know (SAI, SASI,
    /// 1.2's `<table>.json`, a component of a later release) is uploaded as it is.
    private func reportOpaque(_ file: OpaqueFileName, path: String) {
        switch opaqueNames.admit(file.name) {
        case .first:
            logger.info(
                "Shipping an unrecognised snapshot file as an opaque file",
                metadata: [
                    "file.path": "\(path.escapedForLog)", "file.pooled": "\(file.isPooled)",
                ])
        case .seen, .capacityReached: break
        }
    }

    /// Shipped all the same: a snapshot ships whole and restores byte for byte, and dropping
    /// the file would make the manifest disagree with the disk. An empty `Data.db` is a
    /// truncated SSTable Cassandra cannot read, which an operator must hear about.
    private func reportEmptyDataFile(_ path: String) {
        guard admit(path) else { return }
        logger.warning(
            "Shipping an empty Data.db: the SSTable is probably truncated",
            metadata: ["file.path": "\(path.escapedForLog)"])
    }

    private func admit(_ path: String) -> Bool {
        switch reported.admit(path) {
        case .first: return true
        case .seen: return false
        case .capacityReached:
            logger.notice(
                "Too many skipped entries: no more are logged one by one",
                metadata: ["skip.logged": "\(reported.capacity)"])
            return false
        }
    }

    private func removed(_ path: String, into batch: inout Batch, recheck: inout Set<String>) {
        let directory = Self.directory(of: path)
        if path.utf8.containsBytes("_txn_".utf8) {
            recheck.insert(directory)
            return
        }
        waiting[directory]?.remove(path)
        guard
            let dataPath = try? DataPath.classify(
                path: path, dataDirectories: configuration.dataDirectories, isDirectory: false),
            case .live = dataPath.location, let file = dataPath.sstable, file.component == .data,
            dataPath.indexName == nil, let table = dataPath.table
        else { return }
        batch.disappeared.append(
            LiveChange(
                directory: directory, sstable: file.sstableName, keyspace: table.keyspace, table: table))
    }

    private func record(_ batch: Batch) async throws {
        if batch.candidates.isEmpty && batch.appeared.isEmpty && batch.disappeared.isEmpty { return }
        let now = Date()
        let encoder = APICoding.encoder()
        func change(_ change: LiveChange, _ kind: AgentAPI.SSTableEvent.Kind) throws
            -> AgentState.LiveSSTableChange
        {
            let report = try encoder.encode(
                AgentAPI.SSTableEvent(
                    kind: kind, keyspace: change.keyspace, table: change.table.table,
                    tableID: change.table.id,
                    sstable: change.sstable, at: now))
            return AgentState.LiveSSTableChange(
                directory: change.directory, sstable: change.sstable, keyspace: change.keyspace,
                tableName: change.table.table, report: report)
        }
        let queued = try await state.recordSeen(
            files: batch.candidates, appeared: try batch.appeared.map { try change($0, .appeared) },
            disappeared: try batch.disappeared.map { try change($0, .disappeared) }, at: now)
        await queue.add(queued)
    }

    /// Live SSTables recorded as present whose `Data.db` is gone (a missed removal event).
    func closeVanishedLiveSSTables() async throws {
        let open = try await state.openLiveSSTables().map { $0.directory + "/" + $0.sstable + "-Data.db" }
        var events: [WatchEvent] = []
        for path in open where FileIdentity.of(path: path) == nil { events.append(.fileRemoved(path)) }
        if !events.isEmpty { try await handle(events) }
    }
}

extension String {
    /// A path as a log line may carry it: whole, but with line breaks and other control
    /// characters escaped, so a file name can neither split nor forge a line.
    var escapedForLog: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator:
                    out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
