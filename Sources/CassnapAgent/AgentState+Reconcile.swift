import CassnapObjectStore
import Foundation
import GRDB

/// The agent's state as the reconcile sees it: this node's bucket listing, replaced in one
/// pass, and the handled paths it forgets once they left the disk.
extension AgentState {
    /// A listing being read into a temporary table of the writer connection, page by page, so
    /// a node's listing is never held in memory.
    package struct BucketListing: Sendable {
        fileprivate let table: String
        fileprivate let startedAt: Double
    }

    package func beginBucketListing() async throws -> BucketListing {
        let listing = BucketListing(
            table: "temp.bucket_listing_\(UInt32.random(in: 0...UInt32.max))",
            startedAt: Date().timeIntervalSince1970)
        try await write { db in
            try db.execute(
                sql:
                    "CREATE TABLE \(listing.table) (key TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT)"
            )
        }
        return listing
    }

    package func addToBucketListing(_ listing: BucketListing, _ page: [ObjectInfo]) async throws {
        try await write { db in
            let insert = try db.makeStatement(
                sql: "INSERT OR REPLACE INTO \(listing.table) (key, size, sha256) VALUES (?, ?, ?)")
            for object in page { try insert.execute(arguments: [object.key, object.size, object.sha256]) }
        }
    }

    /// Makes the listing the agent's cache of the bucket and answers how many objects this agent
    /// uploaded before the listing started that the bucket no longer has: those go back to
    /// pending. Keys recorded after the listing started stay even if it missed them (their page
    /// may have been fetched before the upload, and forgetting them would let a reused name
    /// overwrite them).
    package func finishBucketListing(_ listing: BucketListing) async throws -> Int {
        try await write { db -> Int in
            try db.execute(
                sql: """
                    DELETE FROM bucket_objects WHERE key NOT IN (SELECT key FROM \(listing.table))
                    AND (recorded_at IS NULL OR recorded_at < ?)
                    """,
                arguments: [listing.startedAt])
            // A size that changed makes the remembered checksum stale.
            try db.execute(
                sql: """
                    INSERT INTO bucket_objects (key, size, sha256)
                    SELECT key, size, sha256 FROM \(listing.table) WHERE true
                    ON CONFLICT(key) DO UPDATE SET
                        sha256 = CASE WHEN excluded.sha256 IS NOT NULL THEN excluded.sha256
                            WHEN bucket_objects.size = excluded.size THEN bucket_objects.sha256 END,
                        size = excluded.size
                    """)
            let gone = try String.fetchAll(
                db,
                sql: """
                    SELECT object_key FROM objects
                    WHERE uploaded_at < ? AND object_key NOT IN (SELECT key FROM \(listing.table))
                    """,
                arguments: [listing.startedAt])
            for key in gone {
                try db.execute(cached: "DELETE FROM objects WHERE object_key = ?", arguments: [key])
                try db.execute(
                    cached: "UPDATE files SET status = 'pending', object_key = NULL WHERE object_key = ?",
                    arguments: [key])
            }
            try db.execute(sql: "DROP TABLE \(listing.table)")
            return gone.count
        }
    }

    /// Drops a listing that failed part-way; the cache stays as it was.
    package func abandonBucketListing(_ listing: BucketListing) async {
        try? await pool.write { db in try db.execute(sql: "DROP TABLE IF EXISTS \(listing.table)") }
    }

    /// Failed files get another round of attempts (each reconcile and `--once`).
    package func requeueFailed() async throws {
        try await write { db in
            try db.execute(
                cached: "UPDATE files SET status = 'pending', attempts = 0 WHERE status = 'failed'")
        }
    }

    /// Uploaded or vanished paths after `rowID`, oldest first: a window of the files the
    /// reconcile checks are still on disk.
    package func handledPaths(afterRowID rowID: Int64, limit: Int) async throws -> [(
        rowID: Int64, path: String
    )] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT rowid, path FROM files WHERE status IN ('uploaded', 'vanished') AND rowid > ?
                        ORDER BY rowid LIMIT ?
                        """),
                arguments: [rowID, limit]
            ).map { ($0[0], $0[1]) }
        }
    }

    /// Forgets handled paths that left the disk; their objects (and dedup rows) stay.
    package func forgetHandled(paths: [String]) async throws {
        try await write { db in
            for path in paths {
                try db.execute(
                    cached: "DELETE FROM files WHERE path = ? AND status IN ('uploaded', 'vanished')",
                    arguments: [path])
            }
        }
    }
}
