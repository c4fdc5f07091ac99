import CassnapAPI
import CassnapCore
import CassnapObjectStore
import Foundation
import GRDB

/// The agent's local state in SQLite (WAL): every shippable file seen, one row per uploaded
/// inode, the bucket's keys, multipart sessions, the coordinator outbox and live SSTable
/// lifetimes. The bucket is the truth; this is the agent's index of what it has done, so
/// `kill -9` at any moment loses nothing.
package final class AgentState: Sendable {
    package let path: String
    let pool: DatabasePool

    /// Status of a path in `files`.
    package enum Status: String, Sendable, CaseIterable {
        /// Queued for upload.
        case pending
        /// Its inode's bytes are in the bucket (uploaded from this path or another link).
        case uploaded
        /// Gone from disk before it was uploaded (compaction, a cleared snapshot).
        case vanished
        /// The store refused it for good; retried at the next reconcile.
        case failed
    }

    package init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/agent.sqlite"
        try Self.makePrivate(directory: directory, database: path)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 1 MiB of page cache per connection instead of SQLite's 2 MiB: lookups go by
            // primary key, and the OS page cache holds the file anyway.
            try db.execute(sql: "PRAGMA cache_size = -1024")
        }
        configuration.busyMode = .timeout(30)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// The state holds object keys, checksums and queued reports: readable by the agent alone,
    /// whatever the umask. SQLite creates `-wal` and `-shm` with the main file's mode, so a main
    /// file made 0600 before SQLite opens it is enough; leftovers of a `kill -9` under an older
    /// agent keep their mode, hence the chmod of those too.
    private static func makePrivate(directory: String, database: String) throws {
        guard chmod(directory, 0o700) == 0 else { throw StateFileError(path: directory, code: errno) }
        let fd = open(database, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateFileError(path: database, code: errno) }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw StateFileError(path: database, code: errno) }
        for suffix in ["-wal", "-shm"] where chmod(database + suffix, 0o600) != 0 && errno != ENOENT {
            throw StateFileError(path: database + suffix, code: errno)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    CREATE TABLE files (
                        path TEXT PRIMARY KEY,
                        location TEXT NOT NULL,
                        tag TEXT,
                        device INTEGER NOT NULL,
                        inode INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        mtime_ns INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        sha256 TEXT,
                        object_key TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        error TEXT,
                        first_seen REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        uploaded_at REAL);
                    CREATE INDEX files_status ON files(status);
                    CREATE INDEX files_inode ON files(device, inode);
                    CREATE TABLE objects (
                        device INTEGER NOT NULL,
                        inode INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        mtime_ns INTEGER NOT NULL,
                        object_key TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        uploaded_path TEXT NOT NULL,
                        uploaded_at REAL NOT NULL,
                        PRIMARY KEY (device, inode, size, mtime_ns));
                    CREATE INDEX objects_key ON objects(object_key);
                    CREATE TABLE bucket_objects (key TEXT PRIMARY KEY, size INTEGER NOT NULL, sha256 TEXT);
                    CREATE TABLE upload_sessions (
                        key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, session TEXT NOT NULL,
                        updated_at REAL NOT NULL);
                    CREATE TABLE outbox (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        report_id TEXT NOT NULL UNIQUE,
                        payload BLOB NOT NULL,
                        created_at REAL NOT NULL);
                    CREATE TABLE live_sstables (
                        directory TEXT NOT NULL,
                        sstable TEXT NOT NULL,
                        keyspace TEXT NOT NULL,
                        table_name TEXT NOT NULL,
                        appeared_at REAL NOT NULL,
                        disappeared_at REAL,
                        PRIMARY KEY (directory, sstable));
                    """)
        }
        migrator.registerMigration("v2") { db in
            // When this agent recorded the key itself (NULL: from a listing).
            try db.execute(sql: "ALTER TABLE bucket_objects ADD COLUMN recorded_at REAL")
        }
        migrator.registerMigration("v3-report-kinds") { db in
            // Reports queued by an older agent, in the coordinator's spelling (AgentAPI.ReportKind).
            try db.execute(
                sql: """
                    UPDATE outbox SET kind = CASE kind
                        WHEN 'file' THEN 'files' WHEN 'sstable-event' THEN 'sstable-events'
                        WHEN 'manifest' THEN 'manifests' WHEN 'node-snapshot' THEN 'node-snapshots'
                        ELSE kind END
                    """)
        }
        return migrator
    }

    // MARK: meta

    package func meta(_ key: String) throws -> String? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
        }
    }

    package func setMeta(_ key: String, _ value: String) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

    // MARK: queries for the agent, tests and `run --once` summaries

    /// Where a file was found, as the `files.location` column stores it.
    package enum FileLocation: String, Sendable, Hashable {
        case live
        case snapshot
        case backups

        package init(_ location: DataPath.Location) {
            switch location {
            case .live: self = .live
            case .snapshot: self = .snapshot
            case .backups: self = .backups
            }
        }
    }

    package struct FileRecord: Sendable, Hashable {
        package var path: String
        /// nil for a value this agent does not know (written by a newer one).
        package var location: FileLocation?
        package var tag: String?
        package var identity: FileIdentity
        package var status: Status
        package var sha256: String?
        package var objectKey: String?
        package var attempts: Int
        package var error: String?
        package var firstSeen: Date

        init(row: Row) {
            path = row["path"]
            location = FileLocation(rawValue: row["location"])
            tag = row["tag"]
            identity = FileIdentity(
                device: row["device"], inode: row["inode"], size: row["size"],
                mtimeNanoseconds: row["mtime_ns"])
            status = Status(rawValue: row["status"]) ?? .pending
            sha256 = row["sha256"]
            objectKey = row["object_key"]
            attempts = row["attempts"]
            error = row["error"]
            firstSeen = Date(timeIntervalSince1970: row["first_seen"])
        }
    }

    package func file(path: String) throws -> FileRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM files WHERE path = ?", arguments: [path]).map(
                FileRecord.init)
        }
    }

    /// The records of those of `paths` the state knows, by path, read without holding a
    /// thread: a loop that waits for uploads must not block a cooperative thread in a read
    /// while the shipper's own reads wait for one to resume on.
    package func files(paths: some Collection<String>) async throws -> [String: FileRecord] {
        let paths = Array(paths)
        return try await pool.read { db in
            var records: [String: FileRecord] = [:]
            for start in stride(from: 0, to: paths.count, by: 500) {
                let chunk = Array(paths[start..<min(start + 500, paths.count)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for row in try Row.fetchAll(
                    db, sql: "SELECT * FROM files WHERE path IN (\(marks))",
                    arguments: StatementArguments(chunk))
                {
                    let record = FileRecord(row: row)
                    records[record.path] = record
                }
            }
            return records
        }
    }

    package func files(status: Status? = nil) throws -> [FileRecord] {
        try pool.read { db in
            if let status {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM files WHERE status = ?", arguments: [status.rawValue]
                )
                .map(FileRecord.init)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM files").map(FileRecord.init)
        }
    }

    package func paths(status: Status) throws -> [String] {
        try pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT path FROM files WHERE status = ?", arguments: [status.rawValue])
        }
    }

    /// Pending paths after `rowid` in rowid order, for the upload queue's window.
    func pendingPaths(afterRowID rowid: Int64, limit: Int) async throws -> [(Int64, String)] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT rowid, path FROM files WHERE status = 'pending' AND rowid > ? ORDER BY rowid LIMIT ?"
                ),
                arguments: [rowid, limit]
            ).map { ($0[0], $0[1]) }
        }
    }

    /// Forgets that these objects are in the bucket (something deleted them: a prune, an
    /// operator): their files go back to pending so they are uploaded again. Answers the paths.
    package func forgetObjects(_ keys: [String]) async throws -> [String] {
        try await pool.write { db in
            var paths: [String] = []
            for key in keys {
                paths += try String.fetchAll(
                    db, sql: "SELECT path FROM files WHERE object_key = ?", arguments: [key])
                try db.execute(sql: "DELETE FROM objects WHERE object_key = ?", arguments: [key])
                try db.execute(sql: "DELETE FROM bucket_objects WHERE key = ?", arguments: [key])
                try db.execute(
                    sql: "UPDATE files SET status = 'pending', object_key = NULL WHERE object_key = ?",
                    arguments: [key])
            }
            return paths
        }
    }

    package func statusCounts() throws -> [Status: Int] {
        try pool.read { db in
            var counts: [Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM files GROUP BY status") {
                if let status = Status(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// When the oldest file still waiting for upload was first seen.
    package func oldestPendingSince() throws -> Date? {
        try pool.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(first_seen) FROM files WHERE status = 'pending'")
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    /// Number of distinct objects this agent uploaded (one per inode).
    package func uploadedObjectCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM objects") ?? 0 }
    }

    package struct OutboxEntry: Sendable, Hashable {
        package var id: Int64
        /// As the `kind` column stores it: an `AgentAPI.ReportKind`, unless a newer agent wrote it.
        package var kind: String
        package var reportID: String
        package var payload: Data
    }

    package func outbox(limit: Int = 1000) throws -> [OutboxEntry] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, kind, report_id, payload FROM outbox ORDER BY id LIMIT ?",
                arguments: [limit]
            ).map {
                OutboxEntry(id: $0["id"], kind: $0["kind"], reportID: $0["report_id"], payload: $0["payload"])
            }
        }
    }

    /// Queues one report for the coordinator (sent oldest first by `CoordinatorLink`).
    package func queueOutbox(kind: AgentAPI.ReportKind, _ payload: some Encodable) throws {
        let data = try APICoding.encoder().encode(payload)
        try pool.write { db in try db.queueReport(kind, payload: data, at: Date()) }
    }

    /// When the oldest report of `kind` still waiting for the coordinator was queued.
    package func oldestOutboxEntry(kind: AgentAPI.ReportKind) throws -> Date? {
        try pool.read { db in
            try Double.fetchOne(
                db, sql: "SELECT MIN(created_at) FROM outbox WHERE kind = ?", arguments: [kind.rawValue]
            ).map(Date.init(timeIntervalSince1970:))
        }
    }

    package func outboxCount(kind: AgentAPI.ReportKind) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM outbox WHERE kind = ?", arguments: [kind.rawValue]) ?? 0
        }
    }

    package func deleteOutbox(ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try pool.write { db in
            for id in ids { try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id]) }
        }
    }

    package struct LiveSSTable: Sendable, Hashable {
        package var directory: String
        package var sstable: String
        package var appearedAt: Date
        package var disappearedAt: Date?
    }

    package func liveSSTables() throws -> [LiveSSTable] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM live_sstables").map {
                LiveSSTable(
                    directory: $0["directory"], sstable: $0["sstable"],
                    appearedAt: Date(timeIntervalSince1970: $0["appeared_at"]),
                    disappearedAt: ($0["disappeared_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    package func uploadSessionCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM upload_sessions") ?? 0 }
    }
}

/// What makes a file the same file: one upload per identity. Hard links share it; a rewritten
/// file (or a reused inode number) gets another size or mtime.
package struct FileIdentity: Sendable, Hashable, CustomStringConvertible {
    package var device: Int64
    package var inode: Int64
    package var size: Int64
    package var mtimeNanoseconds: Int64

    package var description: String { "\(device):\(inode):\(size):\(mtimeNanoseconds)" }

    /// lstat(2); nil when the path is gone or not a regular file.
    package static func of(path: String) -> FileIdentity? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileIdentity(
            device: Int64(bitPattern: UInt64(st.st_dev)), inode: Int64(bitPattern: UInt64(st.st_ino)),
            size: Int64(st.st_size),
            mtimeNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }
}

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

extension Database {
    /// Queues one report for the coordinator inside the caller's transaction, so a file's
    /// upload (or a live SSTable's change) and its report commit together. The one INSERT of
    /// the outbox.
    func queueReport(_ kind: AgentAPI.ReportKind, payload: Data, at now: Date) throws {
        try execute(
            cached: "INSERT INTO outbox (kind, report_id, payload, created_at) VALUES (?, ?, ?, ?)",
            arguments: [kind.rawValue, UUID().uuidString.lowercased(), payload, now.timeIntervalSince1970])
    }

    /// `execute(sql:arguments:)` through the connection's statement cache. A storm runs the
    /// same few statements tens of thousands of times, and preparing each anew (through GRDB's
    /// authorizer) cost more CPU than running it. One statement per call.
    func execute(cached sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// The first row of a cached single statement, nil when there is none.
    func fetchRow(cached sql: String, arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}

/// The state directory or database cannot be made private to the agent.
package struct StateFileError: Error, CustomStringConvertible {
    package var path: String
    package var code: Int32

    package var description: String {
        "cannot restrict \(path) to the agent's user: \(String(cString: strerror(code)))"
    }
}
