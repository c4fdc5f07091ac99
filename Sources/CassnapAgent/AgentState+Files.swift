import CassnapAPI
import CassnapCore
import Foundation
import GRDB

/// The `files` table: every shippable path seen, where it was found, and how far it got.
extension AgentState {

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

    package func file(path: String) async throws -> FileRecord? {
        try await pool.read { db in
            try db.fetchRow(cached: "SELECT * FROM files WHERE path = ?", arguments: [path]).map(
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

    package func files(status: Status? = nil) async throws -> [FileRecord] {
        try await pool.read { db in
            if let status {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM files WHERE status = ?", arguments: [status.rawValue]
                )
                .map(FileRecord.init)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM files").map(FileRecord.init)
        }
    }

    package func paths(status: Status) async throws -> [String] {
        try await pool.read { db in
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
        try await write { db in
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

    package func statusCounts() async throws -> [Status: Int] {
        try await pool.read { db in
            var counts: [Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM files GROUP BY status") {
                if let status = Status(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// When the oldest file still waiting for upload was first seen.
    package func oldestPendingSince() async throws -> Date? {
        try await pool.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(first_seen) FROM files WHERE status = 'pending'")
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    /// Number of distinct objects this agent uploaded (one per inode).
    package func uploadedObjectCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM objects") ?? 0 }
    }

    package struct LiveSSTable: Sendable, Hashable {
        package var directory: String
        package var sstable: String
        package var appearedAt: Date
        package var disappearedAt: Date?
    }

    package func liveSSTables() async throws -> [LiveSSTable] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM live_sstables").map {
                LiveSSTable(
                    directory: $0["directory"], sstable: $0["sstable"],
                    appearedAt: Date(timeIntervalSince1970: $0["appeared_at"]),
                    disappearedAt: ($0["disappeared_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
        }
    }
}

/// The state as the `Ingestor` feeds it: files found on disk and live SSTables that came or
/// went, one transaction per watcher batch.
extension AgentState {
    /// A shippable file found on disk.
    package struct SeenFile: Sendable, Hashable {
        package var path: String
        package var location: FileLocation
        package var tag: String?
        package var identity: FileIdentity
    }

    /// A live SSTable that appeared or disappeared, with its report for the coordinator.
    package struct LiveSSTableChange: Sendable, Hashable {
        package var directory: String
        package var sstable: String
        package var keyspace: String
        package var tableName: String
        package var report: Data
    }

    /// Records one batch in one transaction: a file not seen before, or seen with other bytes
    /// (or vanished and back), becomes pending; a live SSTable's change is recorded and its
    /// report queued once. Answers the paths that wait for upload.
    package func recordSeen(
        files: [SeenFile], appeared: [LiveSSTableChange], disappeared: [LiveSSTableChange], at now: Date
    ) async throws -> [String] {
        try await write { db -> [String] in
            var queued: [String] = []
            for file in files where try Self.track(db, file, at: now) { queued.append(file.path) }
            for change in appeared {
                try db.execute(
                    cached: """
                        INSERT OR IGNORE INTO live_sstables (directory, sstable, keyspace, table_name, appeared_at)
                        VALUES (?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        change.directory, change.sstable, change.keyspace, change.tableName,
                        now.timeIntervalSince1970,
                    ])
                if db.changesCount > 0 { try db.queueReport(.sstableEvents, payload: change.report, at: now) }
            }
            for change in disappeared {
                try db.execute(
                    cached: """
                        UPDATE live_sstables SET disappeared_at = ?
                        WHERE directory = ? AND sstable = ? AND disappeared_at IS NULL
                        """,
                    arguments: [now.timeIntervalSince1970, change.directory, change.sstable])
                if db.changesCount > 0 { try db.queueReport(.sstableEvents, payload: change.report, at: now) }
            }
            return queued
        }
    }

    /// Whether `file` waits for upload once its row is written.
    private static func track(_ db: Database, _ file: SeenFile, at now: Date) throws -> Bool {
        let identity = file.identity
        guard
            let row = try db.fetchRow(
                cached: "SELECT device, inode, size, mtime_ns, status FROM files WHERE path = ?",
                arguments: [file.path])
        else {
            try db.execute(
                cached: """
                    INSERT INTO files (path, location, tag, device, inode, size, mtime_ns, status,
                    first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                    """,
                arguments: [
                    file.path, file.location.rawValue, file.tag, identity.device, identity.inode,
                    identity.size,
                    identity.mtimeNanoseconds, now.timeIntervalSince1970, now.timeIntervalSince1970,
                ])
            return true
        }
        let known = FileIdentity(
            device: row["device"], inode: row["inode"], size: row["size"], mtimeNanoseconds: row["mtime_ns"])
        let status = Status(rawValue: row["status"])
        guard known != identity || status == .vanished else { return status == .pending }
        try db.execute(
            cached: """
                UPDATE files SET device = ?, inode = ?, size = ?, mtime_ns = ?, status = 'pending',
                sha256 = NULL, object_key = NULL, attempts = 0, error = NULL, uploaded_at = NULL,
                updated_at = ? WHERE path = ?
                """,
            arguments: [
                identity.device, identity.inode, identity.size, identity.mtimeNanoseconds,
                now.timeIntervalSince1970, file.path,
            ])
        return true
    }

    /// The live SSTables recorded as present.
    package func openLiveSSTables() async throws -> [(directory: String, sstable: String)] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT directory, sstable FROM live_sstables WHERE disappeared_at IS NULL"
            )
            .map { ($0["directory"], $0["sstable"]) }
        }
    }
}
