import CassnapAPI
import CassnapCore
import Foundation
import GRDB

/// The coordinator outbox: reports queued in the transaction that caused them, sent oldest
/// first by `CoordinatorLink`, deleted once the coordinator has them.
extension AgentState {
    package struct OutboxEntry: Sendable, Hashable {
        package var id: Int64
        /// As the `kind` column stores it: an `AgentAPI.ReportKind`, unless a newer agent wrote it.
        package var kind: String
        package var reportID: String
        package var payload: Data
    }

    package func outbox(limit: Int = 1000) async throws -> [OutboxEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, kind, report_id, payload FROM outbox ORDER BY id LIMIT ?",
                arguments: [limit]
            ).map {
                OutboxEntry(id: $0["id"], kind: $0["kind"], reportID: $0["report_id"], payload: $0["payload"])
            }
        }
    }

    /// Queues one report for the coordinator (sent oldest first by `CoordinatorLink`).
    package func queueOutbox(kind: AgentAPI.ReportKind, _ payload: some Encodable) async throws {
        let data = try APICoding.encoder().encode(payload)
        try await write { db in try db.queueReport(kind, payload: data, at: Date()) }
    }

    /// When the oldest report of `kind` still waiting for the coordinator was queued.
    package func oldestOutboxEntry(kind: AgentAPI.ReportKind) async throws -> Date? {
        try await pool.read { db in
            try Double.fetchOne(
                db, sql: "SELECT MIN(created_at) FROM outbox WHERE kind = ?", arguments: [kind.rawValue]
            ).map(Date.init(timeIntervalSince1970:))
        }
    }

    package func outboxCount(kind: AgentAPI.ReportKind) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM outbox WHERE kind = ?", arguments: [kind.rawValue]) ?? 0
        }
    }

    package func deleteOutbox(ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await write { db in
            for id in ids { try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id]) }
        }
    }
}

extension Database {
    /// Queues one report for the coordinator inside the caller's transaction, so a file's
    /// upload (or a live SSTable's change) and its report commit together. The one INSERT of
    /// the outbox.
    func queueReport(_ kind: AgentAPI.ReportKind, payload: Data, at now: Date) throws {
        try execute(
            cached: "INSERT INTO outbox (kind, report_id, payload, created_at) VALUES (?, ?, ?, ?)",
            arguments: [kind.rawValue, UUID().uuidString.lowercased(), payload, now.timeIntervalSince1970])
    }
}
