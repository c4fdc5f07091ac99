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

    package func meta(_ key: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
        }
    }

    package func setMeta(_ key: String, _ value: String) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

}

extension AgentState {
    /// One transaction on the writer, as `pool.write` runs it, with BEGIN and COMMIT taken
    /// from the connection's statement cache: GRDB prepares both anew for every transaction,
    /// and a storm commits one per file.
    func write<T: Sendable>(_ updates: @Sendable (Database) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            try db.execute(cached: "BEGIN DEFERRED TRANSACTION")
            do {
                let value = try updates(db)
                try db.execute(cached: "COMMIT TRANSACTION")
                return value
            } catch {
                if db.isInsideTransaction { try? db.execute(cached: "ROLLBACK TRANSACTION") }
                throw error
            }
        }
    }
}

extension Database {
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
