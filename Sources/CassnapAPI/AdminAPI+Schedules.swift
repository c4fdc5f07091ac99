import CassnapCore
import Foundation

extension AdminAPI {
    /// `POST /v1/schedules`: exactly one of `cron` and `everySeconds`.
    package struct CreateSchedule: Codable, Sendable, Hashable {
        package var name: String
        package var cron: String?
        package var everySeconds: Double?
        package var keyspaces: [String]?
        package var tables: [String]?
        package var keepLast: Int?
        package var keepWithinSeconds: Double?

        package init(
            name: String, cron: String? = nil, everySeconds: Double? = nil, keyspaces: [String]? = nil,
            tables: [String]? = nil, keepLast: Int? = nil, keepWithinSeconds: Double? = nil
        ) {
            self.name = name
            self.cron = cron
            self.everySeconds = everySeconds
            self.keyspaces = keyspaces
            self.tables = tables
            self.keepLast = keepLast
            self.keepWithinSeconds = keepWithinSeconds
        }
    }

    /// A schedule with what the coordinator knows of its runs.
    package struct ScheduleInfo: Codable, Sendable, Hashable {
        package var name: String
        package var cron: String?
        package var everySeconds: Double?
        package var keyspaces: [String]
        package var tables: [String]
        package var keepLast: Int?
        package var keepWithinSeconds: Double?
        package var paused: Bool
        package var createdAt: Date
        /// Absent while paused.
        package var nextRunAt: Date?
        package var lastRunAt: Date?
        package var lastSnapshot: SnapshotSummary?
        /// When the newest complete snapshot of this schedule was requested.
        package var lastCompleteAt: Date?
        /// What the retention after the last complete run did, and when.
        package var lastRetention: String?
        package var lastRetentionAt: Date?

        package init(
            name: String, cron: String?, everySeconds: Double?, keyspaces: [String], tables: [String],
            keepLast: Int?, keepWithinSeconds: Double?, paused: Bool, createdAt: Date, nextRunAt: Date?,
            lastRunAt: Date?, lastSnapshot: SnapshotSummary?, lastCompleteAt: Date?, lastRetention: String?,
            lastRetentionAt: Date?
        ) {
            self.name = name
            self.cron = cron
            self.everySeconds = everySeconds
            self.keyspaces = keyspaces
            self.tables = tables
            self.keepLast = keepLast
            self.keepWithinSeconds = keepWithinSeconds
            self.paused = paused
            self.createdAt = createdAt
            self.nextRunAt = nextRunAt
            self.lastRunAt = lastRunAt
            self.lastSnapshot = lastSnapshot
            self.lastCompleteAt = lastCompleteAt
            self.lastRetention = lastRetention
            self.lastRetentionAt = lastRetentionAt
        }
    }
}
