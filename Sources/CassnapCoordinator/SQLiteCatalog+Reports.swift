import CassnapAPI
import CassnapCore
import Foundation
import GRDB
import Logging

/// Agent reports, each idempotent by its report id, and the commands agents poll for.
extension SQLiteCatalog: ReportCatalog {
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

    package func applyNodeOutcomes(reportID: String, host: HostID, outcomes: [NodeOutcome], at now: Date)
        async throws -> AgentAPI.ReportReceipt
    {
        let hostID = host.description
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
                try Self.settle(db, seq: seq, now: now)
            }
            return AgentAPI.ReportReceipt(reportID: reportID, accepted: accepted, duplicate: false)
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
}
