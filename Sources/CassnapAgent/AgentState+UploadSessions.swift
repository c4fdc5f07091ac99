import CassnapObjectStore
import Foundation
import GRDB

/// Multipart (S3) and resumable (GCS) sessions in the agent's database, so an upload cut by
/// `kill -9` resumes from its last part after a restart.
package struct SQLiteUploadSessionStore: UploadSessionStore {
    let state: AgentState

    package init(state: AgentState) { self.state = state }

    package func session(key: String, fingerprint: String) async throws -> String? {
        try await state.pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT session FROM upload_sessions WHERE key = ? AND fingerprint = ?",
                arguments: [key, fingerprint])
        }
    }

    package func save(session: String, key: String, fingerprint: String) async throws {
        try await state.pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO upload_sessions (key, fingerprint, session, updated_at)
                    VALUES (?, ?, ?, ?)
                    """, arguments: [key, fingerprint, session, Date().timeIntervalSince1970])
        }
    }

    package func remove(key: String) async throws {
        try await state.pool.write { db in
            try db.execute(sql: "DELETE FROM upload_sessions WHERE key = ?", arguments: [key])
        }
    }
}

extension SQLiteUploadSessionStore {
    /// Some session in progress and the key it uploads, for tests and diagnostics.
    package func anySession() async throws -> (key: String, session: String)? {
        try await state.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT key, session FROM upload_sessions LIMIT 1").map {
                ($0["key"], $0["session"])
            }
        }
    }
}

extension AgentState {
    package func uploadSessionCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM upload_sessions") ?? 0 }
    }
}
