import CassnapAPI
import CassnapCore
import Foundation
import GRDB
import Logging

/// The catalog in SQLite through GRDB: a WAL-mode file in production (readers never wait for
/// the writer), an in-memory database in tests of the catalog alone.
package final class SQLiteCatalog: Catalog {
    let writer: any DatabaseWriter
    /// Records carry the cluster name.
    private let cluster: ClusterName
    private let logger: Logger
    /// Items written per transaction of a report; other nodes' writes wait for one chunk at most.
    private let reportChunk: Int
    /// Called after each committed chunk with the number of chunks so far (fault injection).
    private let afterChunk: (@Sendable (Int) throws -> Void)?

    /// Opens (creating if needed) the file at `path` and runs pending migrations. The file and
    /// its WAL are readable by the owner only (0600): the catalog names every node and file.
    package init(path: String, cluster: ClusterName, logger: Logger = Logger(label: "cassnap.catalog")) throws
    {
        self.cluster = cluster
        self.logger = logger
        self.reportChunk = 500
        self.afterChunk = nil
        try OwnerOnlyFile.prepare(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL plus NORMAL survives kill -9 of the process; only a power cut can lose the
            // last transactions, which agents resend from their outbox.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        writer = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(writer)
    }

    /// A private in-memory database.
    package init(
        cluster: ClusterName, logger: Logger = Logger(label: "cassnap.catalog"), reportChunk: Int = 500,
        afterChunk: (@Sendable (Int) throws -> Void)? = nil
    ) throws {
        self.cluster = cluster
        self.logger = logger
        self.reportChunk = reportChunk
        self.afterChunk = afterChunk
        writer = try DatabaseQueue()
        try Self.migrator.migrate(writer)
    }

    // MARK: Nodes

    package func register(_ r: AgentAPI.Registration, at now: Date) async throws {
        let tokens = try json(r.tokens)
        let dirs = try json(r.dataDirectories)
        let at = seconds(now)
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO nodes (host_id, hostname, cluster, datacenter, rack, tokens, cassandra_version,
                        data_directories, agent_version, registered_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(host_id) DO UPDATE SET hostname = excluded.hostname, cluster = excluded.cluster,
                        datacenter = excluded.datacenter, rack = excluded.rack, tokens = excluded.tokens,
                        cassandra_version = excluded.cassandra_version,
                        data_directories = excluded.data_directories, agent_version = excluded.agent_version
                    """,
                arguments: [
                    r.hostID.description, r.hostname, r.cluster, r.datacenter, r.rack, tokens,
                    r.cassandraVersion, dirs, r.agentVersion, at,
                ])
        }
    }

    package func heartbeat(_ host: HostID, _ beat: AgentAPI.Heartbeat, at now: Date) async throws -> Bool {
        let offset = beat.agentTime.timeIntervalSince(now)
        return try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE nodes SET last_heartbeat = ?, clock_offset = ?, queued_files = ?, oldest_queued_age = ?,
                        uploaded_files = ?, uploaded_bytes = ? WHERE host_id = ?
                    """,
                arguments: [
                    seconds(now), offset, beat.queuedFiles, beat.oldestQueuedAge, beat.uploadedFiles,
                    beat.uploadedBytes, host.description,
                ])
            guard db.changesCount > 0 else { return false }
            if let history = beat.liveHistory {
                try db.execute(
                    sql: """
                        INSERT INTO live_history (host_id, since, through) VALUES (?, ?, ?)
                        ON CONFLICT(host_id, since) DO UPDATE SET through = MAX(through, excluded.through)
                        """,
                    arguments: [host.description, seconds(history.since), seconds(history.through)])
            }
            return true
        }
    }

    package func isRegistered(_ host: HostID) async throws -> Bool {
        try await writer.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM nodes WHERE host_id = ?", arguments: [host.description])
                ?? false
        }
    }

    package func nodes() async throws -> [AdminAPI.Node] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY hostname, host_id").map { row in
                AdminAPI.Node(
                    hostID: try HostID(row["host_id"] as String), hostname: row["hostname"],
                    datacenter: row["datacenter"], rack: row["rack"],
                    cassandraVersion: row["cassandra_version"],
                    registeredAt: date(row["registered_at"]),
                    lastHeartbeat: optionalDate(row["last_heartbeat"]),
                    clockOffsetSeconds: row["clock_offset"], queuedFiles: row["queued_files"],
                    oldestQueuedAge: row["oldest_queued_age"])
            }
        }
    }

    package func resolveNode(_ ref: String) async throws -> HostID? {
        if let host = try? HostID(ref) { return host }
        return try await writer.read { db in
            let hosts = try String.fetchAll(
                db, sql: "SELECT host_id FROM nodes WHERE hostname = ? LIMIT 2", arguments: [ref])
            guard hosts.count == 1 else { return nil }
            return try HostID(hosts[0])
        }
    }

    package func liveNodes(since: Date) async throws -> [ClusterSnapshotRecord.NodeEntry] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM nodes WHERE last_heartbeat >= ? ORDER BY host_id",
                arguments: [seconds(since)]
            ).map { row in
                ClusterSnapshotRecord.NodeEntry(
                    hostID: try HostID(row["host_id"] as String), hostname: row["hostname"],
                    datacenter: row["datacenter"], rack: row["rack"], status: .pending)
            }
        }
    }

    // MARK: Reports

    package func commands(for host: HostID) async throws -> [AgentAPI.Command] {
        let rows = try await writer.read { db in
            // A command stays due while its snapshot is pending and the node has not reported.
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.id, c.payload FROM commands c
                    JOIN snapshots s ON s.seq = c.snapshot_seq
                    JOIN snapshot_nodes n ON n.snapshot_seq = c.snapshot_seq AND n.host_id = c.host_id
                    WHERE c.host_id = ? AND s.status = 'pending' AND n.status = 'pending'
                    ORDER BY c.created_at
                    """,
                arguments: [host.description]
            ).map { (id: $0["id"] as String, payload: $0["payload"] as String) }
        }
        // One unreadable command (written by an older coordinator, or damaged) must not keep
        // the node from every other command.
        return rows.compactMap { row in
            do {
                return try APICoding.decoder().decode(AgentAPI.Command.self, from: Data(row.payload.utf8))
            } catch {
                logger.warning(
                    "Queued command is unreadable; skipped",
                    metadata: [
                        "command.id": "\(row.id)", "node.host_id": "\(host)", "error.message": "\(error)",
                    ])
                return nil
            }
        }
    }

    package func recordFiles(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.FileReport>, at now: Date)
        async throws -> AgentAPI.ReportReceipt
    {
        let hostID = host.description
        return try await applyInChunks(batch, host: hostID, kind: .files, at: now) { db, files in
            // An upsert: applying a chunk twice (after a crash between chunks) changes nothing.
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO pool_files (host_id, object_key, keyspace, table_name, table_id, index_name,
                        file_name, size, sha256, uploaded_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(host_id, object_key) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
                        uploaded_at = excluded.uploaded_at
                    """)
            for f in files {
                try insert.execute(arguments: [
                    hostID, f.objectKey, f.keyspace, f.table, f.tableID?.description, f.indexName, f.fileName,
                    f.size, f.sha256, seconds(f.uploadedAt),
                ])
            }
        }
    }

    package func recordSSTableEvents(
        _ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.SSTableEvent>, at now: Date
    ) async throws -> AgentAPI.ReportReceipt {
        let hostID = host.description
        return try await applyInChunks(batch, host: hostID, kind: .sstableEvents, at: now) { db, events in
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO sstable_events (host_id, keyspace, table_name, table_id, sstable, kind, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
            for e in events {
                try insert.execute(arguments: [
                    hostID, e.keyspace, e.table, e.tableID?.description, e.sstable, e.kind.rawValue,
                    seconds(e.at),
                ])
            }
        }
    }

    package func recordNodeSnapshots(
        _ host: HostID, _ batch: AgentAPI.Batch<AdminAPI.OperatorSnapshot>, at now: Date
    ) async throws -> AgentAPI.ReportReceipt {
        let hostID = host.description
        return try await applyInChunks(batch, host: hostID, kind: .nodeSnapshots, at: now) {
            db, snapshots in
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO node_snapshots
                        (host_id, tag, manifest_key, taken_at, files, bytes, verified_at, error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for n in snapshots {
                try upsert.execute(arguments: [
                    hostID, n.tag.description, n.manifestKey, seconds(n.takenAt), n.files, n.bytes,
                    seconds(n.verifiedAt), n.error,
                ])
            }
        }
    }

    package func nodeSnapshots(_ host: HostID?) async throws -> [AdminAPI.OperatorSnapshot] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.*, n.hostname FROM node_snapshots s LEFT JOIN nodes n ON n.host_id = s.host_id
                    WHERE ?1 IS NULL OR s.host_id = ?1
                    ORDER BY s.taken_at DESC, s.host_id, s.tag
                    """, arguments: [host?.description]
            ).map { row in
                AdminAPI.OperatorSnapshot(
                    hostID: try HostID(row["host_id"] as String), hostname: row["hostname"],
                    tag: try SnapshotTag(row["tag"] as String), manifestKey: row["manifest_key"],
                    takenAt: date(row["taken_at"]), files: row["files"], bytes: row["bytes"],
                    verifiedAt: date(row["verified_at"]), error: row["error"])
            }
        }
    }

    /// Applies a report's items `reportChunk` at a time, each chunk in its own transaction
    /// together with the report's progress (`processed_reports.applied`). A resent report
    /// continues where the last applied chunk ended, so every item is applied exactly once even
    /// after a crash between chunks; a completed report answers `duplicate`.
    private func applyInChunks<Item: Sendable>(
        _ batch: AgentAPI.Batch<Item>, host: String, kind: AgentAPI.ReportKind, at now: Date,
        _ apply: @escaping @Sendable (Database, ArraySlice<Item>) throws -> Void
    ) async throws -> AgentAPI.ReportReceipt {
        let items = batch.items
        let reportID = batch.reportID
        let at = seconds(now)
        let chunk = reportChunk
        var appliedHere = 0
        var chunks = 0
        while true {
            let step = try await writer.write { db -> (applied: Int, complete: Bool)? in
                let progress = try Row.fetchOne(
                    db, sql: "SELECT applied FROM processed_reports WHERE report_id = ?",
                    arguments: [reportID])
                if let progress, progress["applied"] as Int? == nil { return nil }
                let start = min(progress?["applied"] as Int? ?? 0, items.count)
                let end = min(start + chunk, items.count)
                try apply(db, items[start..<end])
                let complete = end == items.count
                try db.execute(
                    sql: """
                        INSERT INTO processed_reports (report_id, host_id, kind, received_at, applied) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(report_id) DO UPDATE SET applied = excluded.applied
                        """,
                    arguments: [reportID, host, kind.rawValue, at, complete ? nil : end])
                return (end - start, complete)
            }
            guard let step else {
                return AgentAPI.ReportReceipt(
                    reportID: reportID, accepted: appliedHere, duplicate: appliedHere == 0)
            }
            appliedHere += step.applied
            chunks += 1
            try afterChunk?(chunks)
            if step.complete {
                return AgentAPI.ReportReceipt(reportID: reportID, accepted: appliedHere, duplicate: false)
            }
        }
    }

    package func isReportProcessed(_ reportID: String) async throws -> Bool {
        try await writer.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM processed_reports WHERE report_id = ? AND applied IS NULL",
                arguments: [reportID])
                ?? false
        }
    }

    /// Records a report id; false when it was already applied.
    private static func claim(
        _ db: Database, reportID: String, host: String, kind: AgentAPI.ReportKind, at: Double
    ) throws
        -> Bool
    {
        try db.execute(
            sql: """
                INSERT INTO processed_reports (report_id, host_id, kind, received_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(report_id) DO NOTHING
                """,
            arguments: [reportID, host, kind.rawValue, at])
        return db.changesCount > 0
    }

    // MARK: Snapshots

    package func createSnapshot(_ plan: SnapshotPlan) async throws {
        let record = plan.record
        let commands = try plan.commands.map {
            (host: $0.host.description, id: $0.command.id, payload: try jsonString($0.command))
        }
        let keyspaces = try json(record.keyspaces)
        let tables = try json(record.tables)
        try await writer.write { db in
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM snapshots WHERE tag = ?", arguments: [record.tag.rawValue])
                ?? false
            {
                throw CatalogError.tagExists(record.tag)
            }
            let seq = try Self.insertSnapshot(db, record, keyspaces: keyspaces, tables: tables)
            for c in commands {
                try db.execute(
                    sql:
                        "INSERT INTO commands (id, host_id, snapshot_seq, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [c.id, c.host, seq, c.payload, seconds(Date())])
            }
        }
    }

    /// Inserts the snapshot row and its node rows; answers the row's sequence number.
    private static func insertSnapshot(
        _ db: Database, _ record: ClusterSnapshotRecord, keyspaces: String, tables: String
    ) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO snapshots (id, tag, requested_at, deadline, status, keyspaces, tables)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                record.id.description, record.tag.rawValue, seconds(record.requestedAt),
                seconds(record.deadline ?? record.requestedAt), record.status.rawValue, keyspaces, tables,
            ])
        let seq = db.lastInsertedRowID
        for node in record.nodes {
            try db.execute(
                sql: """
                    INSERT INTO snapshot_nodes (snapshot_seq, host_id, hostname, datacenter, rack, status, taken_at,
                        manifest_key, error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    seq, node.hostID.description, node.hostname, node.datacenter, node.rack,
                    node.status.rawValue,
                    node.takenAt.map(seconds), node.manifestKey, node.error,
                ])
        }
        return seq
    }

    package func resolveSnapshot(_ ref: String) async throws -> SnapshotID? {
        let byID = (try? SnapshotID(ref))?.description
        return try await writer.read { db in
            let id = try String.fetchOne(
                db, sql: "SELECT id FROM snapshots WHERE id = ? OR tag = ? LIMIT 1", arguments: [byID, ref])
            return try id.map { try SnapshotID($0) }
        }
    }

    package func record(_ id: SnapshotID) async throws -> ClusterSnapshotRecord? {
        let cluster = self.cluster
        return try await writer.read { db in
            try Self.loadRecord(db, id: id.description, cluster: cluster)?.record
        }
    }

    private static func loadRecord(_ db: Database, id: String, cluster: ClusterName) throws
        -> (record: ClusterSnapshotRecord, seq: Int64, revision: Int)?
    {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM snapshots WHERE id = ?", arguments: [id])
        else {
            return nil
        }
        let seq: Int64 = row["seq"]
        let nodes = try Row.fetchAll(
            db, sql: "SELECT * FROM snapshot_nodes WHERE snapshot_seq = ? ORDER BY host_id", arguments: [seq]
        ).map(nodeEntry)
        let record = ClusterSnapshotRecord(
            id: try SnapshotID(row["id"] as String), cluster: cluster,
            tag: try SnapshotTag(row["tag"] as String),
            requestedAt: date(row["requested_at"]), deadline: date(row["deadline"]),
            status: ClusterSnapshotRecord.Status(rawValue: row["status"]) ?? .failed,
            keyspaces: try decodeJSON(row["keyspaces"]), tables: try decodeJSON(row["tables"]), nodes: nodes)
        return (record, seq, row["revision"])
    }

    private static func nodeEntry(_ row: Row) throws -> ClusterSnapshotRecord.NodeEntry {
        ClusterSnapshotRecord.NodeEntry(
            hostID: try HostID(row["host_id"] as String), hostname: row["hostname"],
            datacenter: row["datacenter"],
            rack: row["rack"], status: ClusterSnapshotRecord.NodeStatus(rawValue: row["status"]) ?? .failed,
            takenAt: optionalDate(row["taken_at"]), manifestKey: row["manifest_key"], error: row["error"])
    }

    package func summaries(page: PageRequest<SnapshotListKey>) async throws
        -> CatalogPage<AdminAPI.SnapshotSummary, SnapshotListKey>
    {
        try await writer.read { db in
            // Keyset on snapshots_by_requested (requested_at, tag): each page seeks, never skips.
            var sql = "SELECT * FROM snapshots"
            var arguments: StatementArguments = []
            if let after = page.after {
                sql += " WHERE (requested_at, tag) > (?, ?)"
                arguments += [after.requestedAt, after.tag]
            }
            sql += " ORDER BY requested_at, tag LIMIT ?"
            arguments += [page.limit + 1]
            var rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            var next: SnapshotListKey?
            if rows.count > page.limit {
                rows.removeLast()
                next = rows.last.map { SnapshotListKey(requestedAt: $0["requested_at"], tag: $0["tag"]) }
            }
            return CatalogPage(items: try rows.map { try Self.summary(db, $0) }, next: next)
        }
    }

    private static func summary(_ db: Database, _ row: Row) throws -> AdminAPI.SnapshotSummary {
        let seq: Int64 = row["seq"]
        let totals = try Row.fetchOne(
            db,
            sql: """
                SELECT COUNT(*) AS expected, SUM(status = 'complete') AS complete, SUM(files) AS files,
                    SUM(bytes) AS bytes, MIN(taken_at) AS first, MAX(taken_at) AS last
                FROM snapshot_nodes WHERE snapshot_seq = ?
                """, arguments: [seq])!
        let first: Double? = totals["first"]
        let last: Double? = totals["last"]
        var spread: Double?
        if let first, let last { spread = ((last - first) * 1000).rounded() / 1000 }
        return AdminAPI.SnapshotSummary(
            id: try SnapshotID(row["id"] as String), tag: try SnapshotTag(row["tag"] as String),
            status: ClusterSnapshotRecord.Status(rawValue: row["status"]) ?? .failed,
            requestedAt: date(row["requested_at"]), deadline: date(row["deadline"]),
            expectedNodes: totals["expected"],
            completedNodes: totals["complete"] ?? 0, files: totals["files"] ?? 0, bytes: totals["bytes"] ?? 0,
            spreadSeconds: spread)
    }

    package func detail(_ id: SnapshotID) async throws -> AdminAPI.SnapshotDetail? {
        try await writer.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM snapshots WHERE id = ?", arguments: [id.description])
            else { return nil }
            let seq: Int64 = row["seq"]
            let nodes = try Row.fetchAll(
                db, sql: "SELECT * FROM snapshot_nodes WHERE snapshot_seq = ? ORDER BY hostname, host_id",
                arguments: [seq]
            ).map { n in
                AdminAPI.NodeSnapshot(
                    hostID: try HostID(n["host_id"] as String), hostname: n["hostname"] ?? "",
                    status: ClusterSnapshotRecord.NodeStatus(rawValue: n["status"]) ?? .failed,
                    takenAt: optionalDate(n["taken_at"]), manifestKey: n["manifest_key"], files: n["files"],
                    bytes: n["bytes"], error: n["error"])
            }
            return AdminAPI.SnapshotDetail(
                summary: try Self.summary(db, row), keyspaces: try decodeJSON(row["keyspaces"]),
                tables: try decodeJSON(row["tables"]), nodes: nodes)
        }
    }

    package func sstables(_ id: SnapshotID, filter: SSTableFilter, page: PageRequest<SSTableKey>) async throws
        -> CatalogPage<AdminAPI.SnapshotSSTable, SSTableKey>
    {
        try await writer.read { db in
            guard
                let seq = try Int64.fetchOne(
                    db, sql: "SELECT seq FROM snapshots WHERE id = ?", arguments: [id.description])
            else { return CatalogPage(items: [], next: nil) }
            let query = Self.sstablesQuery(seq: seq, filter: filter, after: page.after)
            var result: [AdminAPI.SnapshotSSTable] = []
            result.reserveCapacity(min(page.limit, 1024))
            var lastKey: SSTableKey?
            var next: SSTableKey?
            var hostCache: [String: HostID] = [:]
            var tableIDCache: [String: TableID] = [:]
            // Rows are component files in SSTable order; stepping stops at the first file of the
            // SSTable after the page, so a page reads O(limit) rows whatever the set's size.
            let cursor = try Row.fetchCursor(db, sql: query.sql, arguments: query.arguments)
            while let row = try cursor.next() {
                let key = SSTableKey(
                    host: row[0], keyspace: row[2], table: row[3], index: row[4], sstable: row[5])
                let component = AdminAPI.SnapshotSSTable.Component(
                    fileName: row[6], size: row[8], sha256: row[9], objectKey: row[10])
                if key == lastKey {
                    result[result.count - 1].components.append(component)
                    continue
                }
                if result.count == page.limit {
                    next = lastKey
                    break
                }
                let host: HostID
                if let cached = hostCache[key.host] {
                    host = cached
                } else {
                    host = try HostID(key.host)
                    hostCache[key.host] = host
                }
                var tableID: TableID?
                if let text = row[7] as String? {
                    if let cached = tableIDCache[text] {
                        tableID = cached
                    } else {
                        tableID = try TableID(text)
                        tableIDCache[text] = tableID
                    }
                }
                result.append(
                    AdminAPI.SnapshotSSTable(
                        hostID: host, hostname: row[1] ?? "", keyspace: key.keyspace, table: key.table,
                        tableID: tableID, sstable: key.sstable, index: key.index.isEmpty ? nil : key.index,
                        components: [component]))
                lastKey = key
            }
            return CatalogPage(items: result, next: next)
        }
    }

    /// The SQL of one `snapshot sstables` page. It reads one index in the list's order: the
    /// primary key (snapshot, node, keyspace, table, index, SSTable, file), or with a keyspace
    /// and a table but no node, `snapshot_files_by_table`. Filter columns that lead the index
    /// are equality constraints of the seek; the cursor is a row-value `>` on the index columns
    /// that follow; other filter columns are written `+col = ?` so SQLite neither picks another
    /// index for them nor adds a sort (EXPLAIN QUERY PLAN: one SEARCH, no TEMP B-TREE).
    package static func sstablesQuery(seq: Int64, filter: SSTableFilter, after: SSTableKey?) -> (
        sql: String, arguments: StatementArguments
    ) {
        let fixed: [String: String] = [
            "host_id": filter.host?.description, "keyspace": filter.keyspace, "table_name": filter.table,
        ].compactMapValues { $0 }
        let byTable = filter.host == nil && filter.keyspace != nil && filter.table != nil
        let columns =
            byTable
            ? ["keyspace", "table_name", "host_id", "index_name", "sstable"]
            : ["host_id", "keyspace", "table_name", "index_name", "sstable"]
        let seek = columns.prefix { fixed[$0] != nil }
        var sql = """
            SELECT f.host_id, n.hostname, f.keyspace, f.table_name, f.index_name, f.sstable, f.file_name,
                f.table_id, f.size, f.sha256, f.object_key
            FROM snapshot_files f \(byTable ? "INDEXED BY snapshot_files_by_table" : "NOT INDEXED")
            JOIN snapshot_nodes n ON n.snapshot_seq = f.snapshot_seq AND n.host_id = f.host_id
            WHERE f.snapshot_seq = ?
            """
        var arguments: StatementArguments = [seq]
        for column in seek {
            sql += " AND f.\(column) = ?"
            arguments += [fixed[column]]
        }
        for column in columns.dropFirst(seek.count) {
            if let value = fixed[column] {
                sql += " AND +f.\(column) = ?"
                arguments += [value]
            }
        }
        if let after {
            let values: [String: String] = [
                "host_id": after.host, "keyspace": after.keyspace, "table_name": after.table,
                "index_name": after.index, "sstable": after.sstable,
            ]
            let rest = columns.dropFirst(seek.count)
            sql += " AND (\(rest.map { "f.\($0)" }.joined(separator: ", "))) > ("
            sql += rest.map { _ in "?" }.joined(separator: ", ") + ")"
            for column in rest { arguments += [values[column]] }
        }
        sql += " ORDER BY f.host_id, f.keyspace, f.table_name, f.index_name, f.sstable, f.file_name"
        return (sql, arguments)
    }

    /// EXPLAIN QUERY PLAN of a `snapshot sstables` page, one line per plan step: for tests.
    package func sstablesQueryPlan(filter: SSTableFilter, after: SSTableKey?) async throws -> [String] {
        let query = Self.sstablesQuery(seq: 1, filter: filter, after: after)
        return try await writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query.sql, arguments: query.arguments).map {
                $0["detail"]
            }
        }
    }

    package func applyNodeOutcomes(reportID: String, host: HostID, outcomes: [NodeOutcome], at now: Date)
        async throws -> AgentAPI.ReportReceipt
    {
        let hostID = host.description
        let cluster = self.cluster
        return try await writer.write { db in
            guard try Self.claim(db, reportID: reportID, host: hostID, kind: .manifests, at: seconds(now))
            else {
                return AgentAPI.ReportReceipt(reportID: reportID, accepted: 0, duplicate: true)
            }
            var accepted = 0
            for outcome in outcomes {
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT seq, status FROM snapshots WHERE id = ?",
                        arguments: [outcome.snapshotID.description])
                else { continue }
                let seq: Int64 = row["seq"]
                // Reports for finished snapshots, or for a node already settled, change nothing.
                guard row["status"] as String == "pending",
                    try String.fetchOne(
                        db, sql: "SELECT status FROM snapshot_nodes WHERE snapshot_seq = ? AND host_id = ?",
                        arguments: [seq, hostID]) == "pending"
                else { continue }
                switch outcome.result {
                case .complete(let takenAt, let manifestKey, let files):
                    try Self.insertFiles(db, seq: seq, host: hostID, files: files)
                    try db.execute(
                        sql: """
                            UPDATE snapshot_nodes SET status = 'complete', taken_at = ?, manifest_key = ?, error = NULL,
                                files = ?, bytes = ? WHERE snapshot_seq = ? AND host_id = ?
                            """,
                        arguments: [
                            seconds(takenAt), manifestKey, files.count, files.reduce(0) { $0 + $1.size }, seq,
                            hostID,
                        ])
                case .failed(let error):
                    try db.execute(
                        sql:
                            "UPDATE snapshot_nodes SET status = 'failed', error = ? WHERE snapshot_seq = ? AND host_id = ?",
                        arguments: [error, seq, hostID])
                }
                accepted += 1
                try Self.settle(db, id: outcome.snapshotID.description, cluster: cluster, now: now)
            }
            return AgentAPI.ReportReceipt(reportID: reportID, accepted: accepted, duplicate: false)
        }
    }

    private static func insertFiles(_ db: Database, seq: Int64, host: String, files: [SnapshotFile]) throws {
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO snapshot_files (snapshot_seq, host_id, keyspace, table_name, index_name, sstable,
                    file_name, table_id, size, sha256, object_key)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for f in files {
            try insert.execute(arguments: [
                seq, host, f.keyspace, f.table, f.index ?? "", f.sstable, f.fileName, f.tableID?.description,
                f.size,
                f.sha256, f.objectKey,
            ])
        }
    }

    /// Recomputes a snapshot's status from its nodes and bumps its revision when it changed.
    private static func settle(_ db: Database, id: String, cluster: ClusterName, now: Date) throws {
        guard let (record, seq, _) = try loadRecord(db, id: id, cluster: cluster) else { return }
        let deadlinePassed = record.deadline.map { now > $0 } ?? false
        let status = ClusterSnapshotRecord.status(of: record.nodes, deadlinePassed: deadlinePassed)
        try db.execute(
            sql: "UPDATE snapshots SET status = ?, revision = revision + 1 WHERE seq = ?",
            arguments: [status.rawValue, seq])
    }

    package func expireSnapshots(at now: Date) async throws -> Int {
        let cluster = self.cluster
        return try await writer.write { db in
            let ids = try String.fetchAll(
                db, sql: "SELECT id FROM snapshots WHERE status = 'pending' AND deadline < ?",
                arguments: [seconds(now)])
            for id in ids {
                try db.execute(
                    sql: """
                        UPDATE snapshot_nodes SET status = 'failed', error = 'no manifest reported before the deadline'
                        WHERE status = 'pending' AND snapshot_seq = (SELECT seq FROM snapshots WHERE id = ?)
                        """, arguments: [id])
                try Self.settle(db, id: id, cluster: cluster, now: now)
            }
            return ids.count
        }
    }

    package func unmirroredRecords() async throws -> [(record: ClusterSnapshotRecord, revision: Int)] {
        let cluster = self.cluster
        return try await writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT id FROM snapshots WHERE revision > mirrored_revision ORDER BY seq"
            ).compactMap { id in
                try Self.loadRecord(db, id: id, cluster: cluster).map { ($0.record, $0.revision) }
            }
        }
    }

    package func markMirrored(_ id: SnapshotID, revision: Int) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE snapshots SET mirrored_revision = MAX(mirrored_revision, ?) WHERE id = ?",
                arguments: [revision, id.description])
        }
    }

    package func deleteSnapshot(_ id: SnapshotID) async throws -> AdminAPI.SnapshotSummary? {
        try await writer.write { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM snapshots WHERE id = ?", arguments: [id.description])
            else { return nil }
            let summary = try Self.summary(db, row)
            try db.execute(sql: "DELETE FROM snapshots WHERE id = ?", arguments: [id.description])
            return summary
        }
    }

    // MARK: Live SSTables

    package func liveSSTables(_ host: HostID, at instant: Date, page: PageRequest<LiveSSTableKey>)
        async throws
        -> CatalogPage<AdminAPI.LiveSSTable, LiveSSTableKey>
    {
        var arguments: StatementArguments = [
            "t": seconds(instant), "host": host.description, "limit": page.limit + 1,
        ]
        var after = ""
        if let key = page.after {
            // Groups stream in the order of sstable_events_by_node; the cursor seeks into it.
            after = " AND (keyspace, table_name, sstable) > (:keyspace, :table, :sstable)"
            arguments += ["keyspace": key.keyspace, "table": key.table, "sstable": key.sstable]
        }
        let sql = """
            SELECT keyspace, table_name, MAX(table_id) AS table_id, sstable,
                MAX(CASE WHEN kind = 'appeared' AND at <= :t THEN at END) AS appeared,
                MAX(CASE WHEN kind = 'disappeared' AND at <= :t THEN at END) AS gone,
                MIN(CASE WHEN kind = 'disappeared' AND at > :t THEN at END) AS later
            FROM sstable_events WHERE host_id = :host\(after)
            GROUP BY keyspace, table_name, sstable
            HAVING appeared IS NOT NULL AND (gone IS NULL OR gone < appeared)
            ORDER BY keyspace, table_name, sstable
            LIMIT :limit
            """
        let finalArguments = arguments
        return try await writer.read { db in
            var items = try Row.fetchAll(db, sql: sql, arguments: finalArguments).map { row in
                AdminAPI.LiveSSTable(
                    keyspace: row["keyspace"], table: row["table_name"],
                    tableID: try (row["table_id"] as String?).map { try TableID($0) },
                    sstable: row["sstable"],
                    appearedAt: date(row["appeared"]), disappearedAt: optionalDate(row["later"]))
            }
            var next: LiveSSTableKey?
            if items.count > page.limit {
                items.removeLast()
                next = items.last.map {
                    LiveSSTableKey(keyspace: $0.keyspace, table: $0.table, sstable: $0.sstable)
                }
            }
            return CatalogPage(items: items, next: next)
        }
    }

    // MARK: Rebuild

    package func replaceSnapshots(with contents: BucketContents) async throws -> AdminAPI.RebuildResult {
        let prepared = try contents.records.map { record in
            (record: record, keyspaces: try json(record.keyspaces), tables: try json(record.tables))
        }
        return try await writer.write { db in
            try db.execute(sql: "DELETE FROM snapshots")
            var files = 0
            var hosts: Set<HostID> = []
            for (record, keyspaces, tables) in prepared {
                let seq = try Self.insertSnapshot(db, record, keyspaces: keyspaces, tables: tables)
                try db.execute(
                    sql: "UPDATE snapshots SET mirrored_revision = revision WHERE seq = ?", arguments: [seq])
                for (host, manifest) in contents.manifests[record.id] ?? [:] {
                    hosts.insert(host)
                    let nodeFiles = SnapshotFile.files(of: manifest)
                    files += nodeFiles.count
                    try Self.insertFiles(db, seq: seq, host: host.description, files: nodeFiles)
                    try db.execute(
                        sql:
                            "UPDATE snapshot_nodes SET files = ?, bytes = ? WHERE snapshot_seq = ? AND host_id = ?",
                        arguments: [
                            nodeFiles.count, nodeFiles.reduce(0) { $0 + $1.size }, seq, host.description,
                        ])
                    try Self.restorePool(db, host: host, manifest: manifest)
                }
            }
            return AdminAPI.RebuildResult(snapshots: prepared.count, nodes: hosts.count, files: files)
        }
    }

    /// A node and its pool objects as its manifest describes them, for nodes this catalog
    /// has not seen (a fresh database after a rebuild).
    private static func restorePool(_ db: Database, host: HostID, manifest: NodeManifest) throws {
        let n = manifest.node
        try db.execute(
            sql: """
                INSERT INTO nodes (host_id, hostname, cluster, datacenter, rack, tokens, cassandra_version,
                    data_directories, agent_version, registered_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '', ?)
                ON CONFLICT(host_id) DO NOTHING
                """,
            arguments: [
                host.description, n.hostname, manifest.cluster.rawValue, n.datacenter, n.rack,
                String(decoding: try JSONEncoder().encode(n.tokens), as: UTF8.self), n.cassandraVersion,
                seconds(manifest.takenAt),
            ])
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO pool_files (host_id, object_key, keyspace, table_name, table_id, index_name, file_name,
                    size, sha256, uploaded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(host_id, object_key) DO NOTHING
                """)
        for f in SnapshotFile.files(of: manifest) {
            try insert.execute(arguments: [
                host.description, f.objectKey, f.keyspace, f.table, f.tableID?.description, f.index,
                f.fileName,
                f.size, f.sha256, seconds(manifest.takenAt),
            ])
        }
    }
}

// MARK: Column helpers

/// Instants are stored as seconds since 1970, rounded to the milliseconds manifests keep, so a
/// rebuilt catalog answers exactly like the original.
func seconds(_ date: Date) -> Double { InstantFormat.normalized(date).timeIntervalSince1970 }
func date(_ seconds: Double) -> Date {
    InstantFormat.normalized(Date(timeIntervalSince1970: seconds))
}
func optionalDate(_ seconds: Double?) -> Date? { seconds.map(date) }

private func json<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

private func jsonString<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try APICoding.encoder().encode(value), as: UTF8.self)
}

func decodeJSON(_ text: String) throws -> [String] {
    try JSONDecoder().decode([String].self, from: Data(text.utf8))
}
