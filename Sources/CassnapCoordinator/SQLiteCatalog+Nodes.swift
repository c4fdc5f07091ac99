import CassnapAPI
import CassnapCore
import Foundation
import GRDB

/// Registrations and heartbeats.
extension SQLiteCatalog: NodeCatalog {
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
}
