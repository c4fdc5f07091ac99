import CassnapCore
import Foundation
import GRDB
import Logging

/// The catalog in SQLite through GRDB: a WAL-mode file in production (readers never wait for
/// the writer), an in-memory database in tests of the catalog alone. One file per part of
/// `Catalog`: `+Nodes`, `+Reports`, `+Snapshots` (with the mirror's part), `+Queries` (with
/// `+PointInTime`) and `+Rebuild`; `+Schema` holds the tables, `ScheduleCatalog.swift` the
/// schedules.
package final class SQLiteCatalog: Sendable {
    let writer: any DatabaseWriter
    /// Records carry the cluster name.
    let cluster: ClusterName
    let logger: Logger
    /// Items written per transaction of a report; other nodes' writes wait for one chunk at most.
    let reportChunk: Int
    /// Called after each committed chunk with the number of chunks so far (fault injection).
    let afterChunk: (@Sendable (Int) throws -> Void)?

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
}

// MARK: Rows that several parts write or read

extension SQLiteCatalog {
    /// Inserts the snapshot row and its node rows; answers the row's sequence number.
    static func insertSnapshot(
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

    static func insertFiles(_ db: Database, seq: Int64, host: String, files: [SnapshotFile]) throws {
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

    /// Recomputes a snapshot's status from its nodes and bumps its revision (its nodes changed).
    /// The nodes are counted in SQL: a 1,000-node record is not loaded for every report.
    static func settle(_ db: Database, seq: Int64, now: Date) throws {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT s.deadline, COUNT(n.host_id) AS nodes, COALESCE(SUM(n.status = 'complete'), 0) AS complete,
                        COALESCE(SUM(n.status = 'pending'), 0) AS pending
                    FROM snapshots s LEFT JOIN snapshot_nodes n ON n.snapshot_seq = s.seq
                    WHERE s.seq = ? GROUP BY s.seq
                    """, arguments: [seq])
        else { return }
        let status = ClusterSnapshotRecord.status(
            nodes: row["nodes"], complete: row["complete"], pending: row["pending"],
            deadlinePassed: now > date(row["deadline"]))
        try db.execute(
            sql: "UPDATE snapshots SET status = ?, revision = revision + 1 WHERE seq = ?",
            arguments: [status.rawValue, seq])
    }

    static func loadRecord(_ db: Database, id: String, cluster: ClusterName) throws
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
}

// MARK: Column helpers

/// Instants are stored as seconds since 1970, rounded to the milliseconds manifests keep, so a
/// rebuilt catalog answers exactly like the original.
func seconds(_ date: Date) -> Double { InstantFormat.normalized(date).timeIntervalSince1970 }
func date(_ seconds: Double) -> Date {
    InstantFormat.normalized(Date(timeIntervalSince1970: seconds))
}
func optionalDate(_ seconds: Double?) -> Date? { seconds.map(date) }

func json<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func decodeJSON(_ text: String) throws -> [String] {
    try JSONDecoder().decode([String].self, from: Data(text.utf8))
}
