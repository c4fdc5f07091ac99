import CassnapAPI
import CassnapCore
import Foundation
import GRDB

/// Cluster snapshots and node snapshots taken outside cassnap.
extension SQLiteCatalog: SnapshotCatalog {
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

    package func nodeState(_ id: SnapshotID, host: HostID) async throws -> SnapshotNodeState? {
        try await writer.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT s.tag, s.status, n.status AS node_status FROM snapshots s
                        LEFT JOIN snapshot_nodes n ON n.snapshot_seq = s.seq AND n.host_id = ?
                        WHERE s.id = ?
                        """, arguments: [host.description, id.description])
            else { return nil }
            return SnapshotNodeState(
                id: id, tag: try SnapshotTag(row["tag"] as String),
                status: ClusterSnapshotRecord.Status(rawValue: row["status"]) ?? .failed,
                node: (row["node_status"] as String?).map {
                    ClusterSnapshotRecord.NodeStatus(rawValue: $0) ?? .failed
                })
        }
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

    package func detail(_ id: SnapshotID) async throws -> AdminAPI.SnapshotDetail? {
        try await writer.read { db in
            guard let row = try Self.snapshotRow(db, id) else { return nil }
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

    package func expireSnapshots(at now: Date) async throws -> Int {
        try await writer.write { db in
            let seqs = try Int64.fetchAll(
                db, sql: "SELECT seq FROM snapshots WHERE status = 'pending' AND deadline < ?",
                arguments: [seconds(now)])
            for seq in seqs {
                try db.execute(
                    sql: """
                        UPDATE snapshot_nodes SET status = 'failed', error = 'no manifest reported before the deadline'
                        WHERE status = 'pending' AND snapshot_seq = ?
                        """, arguments: [seq])
                try Self.settle(db, seq: seq, now: now)
            }
            return seqs.count
        }
    }

    package func deleteSnapshot(_ id: SnapshotID) async throws -> AdminAPI.SnapshotSummary? {
        try await writer.write { db in
            guard let row = try Self.snapshotRow(db, id) else { return nil }
            let summary = try Self.summary(db, row)
            try db.execute(sql: "DELETE FROM snapshots WHERE id = ?", arguments: [id.description])
            return summary
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

    private static func snapshotRow(_ db: Database, _ id: SnapshotID) throws -> Row? {
        try Row.fetchOne(db, sql: "SELECT * FROM snapshots WHERE id = ?", arguments: [id.description])
    }
}

/// Which record revisions are in the bucket.
extension SQLiteCatalog: MirrorCatalog {
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
}

private func jsonString<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try APICoding.encoder().encode(value), as: UTF8.self)
}
