import CassnapAPI
import Foundation
import GRDB

/// The state as the `Shipper` moves a path through it: one object per uploaded inode, the
/// bucket's keys as far as the agent knows them, and the transitions of a pending path. A
/// path's last transition and its report commit in one transaction.
extension AgentState {
    /// An object in the bucket and the SHA-256 of its bytes.
    package struct StoredObject: Sendable, Hashable {
        package var key: String
        package var sha256: String
    }

    /// What the listing cache says of a key: nil when the key is not in the bucket; a nil
    /// `sha256` when it is but its checksum is not known yet (listed, not yet read).
    package struct CachedBucketObject: Sendable, Hashable {
        package var sha256: String?
    }

    /// What the state knows of a path a worker holds, read at once: the path's row, the object
    /// already uploaded for its bytes (any link of the inode), and the listing cache's entry for
    /// the key the bytes would go to first.
    package struct ShippingFacts: Sendable {
        package var record: FileRecord?
        package var uploaded: StoredObject?
        package var primaryKey: CachedBucketObject?
    }

    /// Three single-row lookups on the writer's connection, outside a transaction. A pool read
    /// hands the task over three times (the pool's semaphore queue, the reader's queue, and
    /// back), the writer once, and the storm's profile showed the difference. The worker holds
    /// the inode and the key, so no other worker changes these rows meanwhile, and each
    /// statement sees every committed write.
    package func shippingFacts(path: String, identity: FileIdentity, primaryKey: String) async throws
        -> ShippingFacts
    {
        try await pool.writeWithoutTransaction { db in
            ShippingFacts(
                record: try db.fetchRow(cached: "SELECT * FROM files WHERE path = ?", arguments: [path])
                    .map(FileRecord.init),
                uploaded: try Self.uploadedObject(db, identity),
                primaryKey: try Self.cachedBucketObject(db, primaryKey))
        }
    }

    // MARK: the bucket, as this agent knows it

    /// The object already uploaded for these bytes (any link of the inode), if any.
    private static func uploadedObject(_ db: Database, _ identity: FileIdentity) throws -> StoredObject? {
        try db.fetchRow(
            cached: """
                SELECT object_key, sha256 FROM objects
                WHERE device = ? AND inode = ? AND size = ? AND mtime_ns = ?
                """,
            arguments: [identity.device, identity.inode, identity.size, identity.mtimeNanoseconds]
        ).map { StoredObject(key: $0[0], sha256: $0[1]) }
    }

    /// The listing cache's entry for `key`. The agent is the only writer below its node root,
    /// so a key the cache does not hold is not in the bucket.
    package func cachedBucketObject(_ key: String) async throws -> CachedBucketObject? {
        try await pool.read { db in try Self.cachedBucketObject(db, key) }
    }

    private static func cachedBucketObject(_ db: Database, _ key: String) throws -> CachedBucketObject? {
        try db.fetchRow(cached: "SELECT sha256 FROM bucket_objects WHERE key = ?", arguments: [key])
            .map { CachedBucketObject(sha256: $0[0]) }
    }

    package func rememberBucketObject(key: String, size: Int64, sha256: String) async throws {
        try await write { db in try Self.rememberBucketObject(db, key: key, size: size, sha256: sha256) }
    }

    private static func rememberBucketObject(_ db: Database, key: String, size: Int64, sha256: String) throws
    {
        try db.execute(
            cached:
                "INSERT OR REPLACE INTO bucket_objects (key, size, sha256, recorded_at) VALUES (?, ?, ?, ?)",
            arguments: [key, size, sha256, Date().timeIntervalSince1970])
    }

    package func forgetBucketObject(_ key: String) async throws {
        try await write { db in
            try db.execute(cached: "DELETE FROM bucket_objects WHERE key = ?", arguments: [key])
        }
    }

    // MARK: transitions of a pending path

    /// The file at `path` changed under its row (rewritten, or a new inode): ship these bytes.
    package func updateIdentity(path: String, to identity: FileIdentity) async throws {
        try await write { db in
            try db.execute(
                cached: """
                    UPDATE files SET device = ?, inode = ?, size = ?, mtime_ns = ?, updated_at = ?
                    WHERE path = ?
                    """,
                arguments: [
                    identity.device, identity.inode, identity.size, identity.mtimeNanoseconds,
                    Date().timeIntervalSince1970, path,
                ])
        }
    }

    /// Gone from disk before it was uploaded; false when the path was not pending.
    package func markVanished(path: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                cached:
                    "UPDATE files SET status = 'vanished', updated_at = ? WHERE path = ? AND status = 'pending'",
                arguments: [Date().timeIntervalSince1970, path])
            return db.changesCount > 0
        }
    }

    /// An upload attempt failed: the path stays pending for another, or is `failed` for good.
    package func recordFailedAttempt(path: String, attempts: Int, error: String, givingUp: Bool) async throws
    {
        try await write { db in
            try db.execute(
                cached: "UPDATE files SET status = ?, attempts = ?, error = ?, updated_at = ? WHERE path = ?",
                arguments: [
                    (givingUp ? Status.failed : .pending).rawValue, attempts, error,
                    Date().timeIntervalSince1970, path,
                ])
        }
    }

    /// Another link of the same inode was uploaded: this path is done without an upload.
    package func markAlias(path: String, of object: StoredObject) async throws {
        try await write { db in try Self.markUploaded(db, path: path, object: object, at: Date()) }
    }

    /// `path`'s bytes are in the bucket as `object`: records the object for its inode (and,
    /// when this agent just wrote it, for the listing cache), marks the path uploaded and
    /// queues `report` for the coordinator, all in one transaction.
    package func markUploaded(
        path: String, identity: FileIdentity, object: StoredObject, written: Bool, report: Data?, at now: Date
    ) async throws {
        try await write { db in
            if written {
                try Self.rememberBucketObject(db, key: object.key, size: identity.size, sha256: object.sha256)
            }
            try db.execute(
                cached: """
                    INSERT OR REPLACE INTO objects
                    (device, inode, size, mtime_ns, object_key, sha256, uploaded_path, uploaded_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    identity.device, identity.inode, identity.size, identity.mtimeNanoseconds, object.key,
                    object.sha256, path, now.timeIntervalSince1970,
                ])
            try Self.markUploaded(db, path: path, object: object, at: now)
            if let report { try db.queueReport(.files, payload: report, at: now) }
        }
    }

    private static func markUploaded(_ db: Database, path: String, object: StoredObject, at now: Date) throws
    {
        try db.execute(
            cached: """
                UPDATE files SET status = 'uploaded', sha256 = ?, object_key = ?, uploaded_at = ?,
                updated_at = ?, error = NULL WHERE path = ?
                """,
            arguments: [
                object.sha256, object.key, now.timeIntervalSince1970, now.timeIntervalSince1970, path,
            ])
    }
}
