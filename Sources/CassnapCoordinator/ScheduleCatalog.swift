import CassnapCore
import Foundation
import GRDB

/// A schedule as the coordinator runs it: the definition (mirrored in the bucket) and the run
/// state only the catalog keeps.
package struct ScheduleState: Sendable, Hashable {
    package var schedule: Schedule
    /// Absent while paused.
    package var nextRunAt: Date?
    package var lastRunAt: Date?
    package var lastSnapshotID: SnapshotID?
    /// The run whose retention has been applied.
    package var retainedAfter: SnapshotID?
    package var lastRetention: String?
    package var lastRetentionAt: Date?
    /// When the newest complete snapshot of this schedule was requested.
    package var lastCompleteAt: Date?
}

/// The schedules' part of the catalog (its own protocol: its only consumer is
/// `ScheduleService`).
package protocol ScheduleCatalog: Sendable {
    /// Adds or replaces a definition; run state is kept when it replaces one.
    func saveSchedule(_ schedule: Schedule, nextRunAt: Date?) async throws
    func schedules() async throws -> [ScheduleState]
    func schedule(_ name: ScheduleName) async throws -> ScheduleState?
    func deleteSchedule(_ name: ScheduleName) async throws -> Bool
    /// A run was started (`snapshot` nil: skipped as missed) and the next one planned.
    func recordScheduleRun(_ name: ScheduleName, at: Date, snapshot: SnapshotID?, nextRunAt: Date?)
        async throws
    func recordRetention(_ name: ScheduleName, after snapshot: SnapshotID, result: String, at: Date)
        async throws
}

extension SQLiteCatalog: ScheduleCatalog {
    package func saveSchedule(_ schedule: Schedule, nextRunAt: Date?) async throws {
        let document = String(decoding: schedule.encoded(), as: UTF8.self)
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO schedules (name, document, next_run_at) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET document = excluded.document, next_run_at = excluded.next_run_at
                    """,
                arguments: [schedule.name.rawValue, document, nextRunAt.map(seconds)])
        }
    }

    package func schedules() async throws -> [ScheduleState] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM schedules ORDER BY name").map { try Self.state(db, $0) }
        }
    }

    package func schedule(_ name: ScheduleName) async throws -> ScheduleState? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM schedules WHERE name = ?", arguments: [name.rawValue])
                .map {
                    try Self.state(db, $0)
                }
        }
    }

    package func deleteSchedule(_ name: ScheduleName) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM schedules WHERE name = ?", arguments: [name.rawValue])
            return db.changesCount > 0
        }
    }

    package func recordScheduleRun(_ name: ScheduleName, at: Date, snapshot: SnapshotID?, nextRunAt: Date?)
        async throws
    {
        try await writer.write { db in
            if let snapshot {
                try db.execute(
                    sql:
                        "UPDATE schedules SET last_run_at = ?, last_snapshot_id = ?, next_run_at = ? WHERE name = ?",
                    arguments: [seconds(at), snapshot.description, nextRunAt.map(seconds), name.rawValue])
            } else {
                try db.execute(
                    sql: "UPDATE schedules SET next_run_at = ? WHERE name = ?",
                    arguments: [nextRunAt.map(seconds), name.rawValue])
            }
        }
    }

    package func recordRetention(_ name: ScheduleName, after snapshot: SnapshotID, result: String, at: Date)
        async throws
    {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE schedules SET retained_after = ?, last_retention = ?, last_retention_at = ? WHERE name = ?
                    """,
                arguments: [snapshot.description, result, seconds(at), name.rawValue])
        }
    }

    private static func state(_ db: Database, _ row: Row) throws -> ScheduleState {
        let schedule = try Schedule.decode(from: Data((row["document"] as String).utf8))
        // Tags are `<name>.<time>` and names hold no `.`: an exact prefix, no LIKE wildcards.
        let prefix = "\(schedule.name)."
        let lastComplete = try Double.fetchOne(
            db,
            sql: """
                SELECT MAX(requested_at) FROM snapshots
                WHERE status = 'complete' AND substr(tag, 1, length(?)) = ?
                """, arguments: [prefix, prefix])
        return ScheduleState(
            schedule: schedule, nextRunAt: optionalDate(row["next_run_at"]),
            lastRunAt: optionalDate(row["last_run_at"]),
            lastSnapshotID: try (row["last_snapshot_id"] as String?).map { try SnapshotID($0) },
            retainedAfter: try (row["retained_after"] as String?).map { try SnapshotID($0) },
            lastRetention: row["last_retention"], lastRetentionAt: optionalDate(row["last_retention_at"]),
            lastCompleteAt: optionalDate(lastComplete))
    }
}
