import Foundation
import GRDB
import Testing

/// Proves GRDB runs over the system libsqlite3, with WAL, on a real file.
@Suite struct SQLiteLinkTests {
    @Test func roundTripOnATempFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cassnap-grdb-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("state.sqlite").path

        do {
            let pool = try DatabasePool(path: path)
            try pool.write { db in
                try db.execute(
                    sql: "CREATE TABLE file (inode INTEGER PRIMARY KEY, name TEXT NOT NULL, size INTEGER)")
                try db.execute(
                    sql: "INSERT INTO file VALUES (?, ?, ?)", arguments: [42, "nb-1-big-Data.db", 1234])
                try db.execute(
                    sql: "INSERT INTO file VALUES (?, ?, ?)", arguments: [43, "nb-1-big-Index.db", 99])
            }
            let mode = try pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
        }
        // A fresh connection sees what the first one committed.
        let queue = try DatabaseQueue(path: path)
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT name, size FROM file ORDER BY inode")
        }
        #expect(rows.map { $0["name"] as String } == ["nb-1-big-Data.db", "nb-1-big-Index.db"])
        #expect(rows.map { $0["size"] as Int } == [1234, 99])
        let version = try queue.read { try String.fetchOne($0, sql: "SELECT sqlite_version()") }
        #expect(version?.hasPrefix("3.") == true)
    }
}
