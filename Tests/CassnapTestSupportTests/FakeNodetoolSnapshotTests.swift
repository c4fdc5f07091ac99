import Foundation
import Testing

@testable import CassnapTestSupport

@Suite("FakeNodetool snapshot")
struct FakeNodetoolSnapshotTests {
    @Test("snapshot hard-links every component of every live SSTable")
    func linksEveryLiveSSTable() throws {
        try withNode({ $0.sstablesPerTable = 3 }) { node in
            let result = try node.nodetool().snapshot(tag: "t1")
            #expect(result.tables.count == node.tables.count)
            #expect(result.linkCount == node.files.count)
            for table in node.tables {
                let snapshot = table.directory.appendingPathComponent("snapshots/t1")
                #expect(
                    names(in: snapshot)
                        == Set(table.sstables.flatMap(\.fileNames) + ["manifest.json", "schema.cql"]))
                for file in table.sstables.flatMap(\.files) {
                    let link = snapshot.appendingPathComponent(file.name)
                    #expect(inode(link) != nil && inode(link) == inode(file.url), "\(file.name)")
                    #expect(linkCount(file.url) == 2)
                }
            }
        }
    }

    @Test("an SSTable named by an open transaction log, or incomplete, is not snapshotted")
    func skipsHalfWrittenSSTables() throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 3
        }) { node in
            let table = node.tables[0]
            let dir = table.directory
            // gen 4: being flushed (log with ADD, Data.db half written, no TOC yet)
            let add = CassandraNaming.transactionRecord(
                "ADD", path: dir.path + "/nb-4-big-", updateTime: 0, files: 8)
            try add.write(
                to: dir.appendingPathComponent("nb_txn_flush_0f1e2d3c-0000-11ee-8000-000000000001.log"),
                atomically: false, encoding: .utf8)
            try Data(repeating: 1, count: 100).write(to: dir.appendingPathComponent("nb-4-big-Data.db"))
            // gen 5: every file written, TOC too, but its flush has not committed yet
            let add5 = CassandraNaming.transactionRecord(
                "ADD", path: dir.path + "/nb-5-big-", updateTime: 0, files: 8)
            try add5.write(
                to: dir.appendingPathComponent("nb_txn_flush_0f1e2d3c-0000-11ee-8000-000000000002.log"),
                atomically: false, encoding: .utf8)
            for file in table.sstables[0].files {
                try FileManager.default.copyItem(
                    at: file.url,
                    to: dir.appendingPathComponent(file.name.replacingOccurrences(of: "nb-1-", with: "nb-5-"))
                )
            }
            // gen 6: no transaction log, but no TOC.txt either (not complete)
            try Data(repeating: 2, count: 100).write(to: dir.appendingPathComponent("nb-6-big-Data.db"))
            // gen 1: removed by a committed compaction whose log is still there
            let remove =
                CassandraNaming.transactionRecord(
                    "ADD", path: dir.path + "/nb-9-big-", updateTime: 0, files: 8)
                + CassandraNaming.transactionRecord(
                    "REMOVE", path: dir.path + "/nb-1-big-", updateTime: 0, files: 8)
                + CassandraNaming.transactionRecord("COMMIT", path: "", updateTime: 0, files: 0)
            try remove.write(
                to: dir.appendingPathComponent("nb_txn_compaction_0f1e2d3c-0000-11ee-8000-000000000003.log"),
                atomically: false, encoding: .utf8)

            let result = try node.nodetool().snapshot(tag: "half")
            let snapshot = dir.appendingPathComponent("snapshots/half")
            let expected = table.sstables[1...].flatMap(\.fileNames)
            #expect(names(in: snapshot) == Set(expected + ["manifest.json", "schema.cql"]))
            #expect(result.tables[0].dataFiles == ["nb-2-big-Data.db", "nb-3-big-Data.db"])
        }
    }

    @Test("manifest.json and schema.cql have Cassandra's content")
    func manifestAndSchema() throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 2
            $0.sstablesPerTable = 2
            $0.systemKeyspaces = true
            $0.secondaryIndexesPerTable = 1
        }) { node in
            let created = Date(timeIntervalSince1970: 1_714_564_800.123)
            try node.nodetool().snapshot(tag: "m", ttl: 3600, now: created)
            let table = try #require(node.table("ks0", "t1"))
            let snapshot = table.directory.appendingPathComponent("snapshots/m")
            let json = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: snapshot.appendingPathComponent("manifest.json")))
                    as? [String: Any])
            #expect(
                json["files"] as? [String] == [
                    "nb-1-big-Data.db", "nb-2-big-Data.db", ".t1_idx0/nb-1-big-Data.db",
                    ".t1_idx0/nb-2-big-Data.db",
                ])
            #expect(json["created_at"] as? String == "2024-05-01T12:00:00.123Z")
            #expect(json["expires_at"] as? String == "2024-05-01T13:00:00.123Z")
            #expect(json["ephemeral"] as? Bool == false)

            let schema = try readText(snapshot.appendingPathComponent("schema.cql"))
            #expect(schema.hasPrefix("CREATE TABLE IF NOT EXISTS ks0.t1 (\n"))
            #expect(schema.contains("WITH ID = \(table.uuidString)\n"))
            #expect(
                table.uuidString.count == 36
                    && table.uuidString.replacingOccurrences(of: "-", with: "") == table.id)
            #expect(schema.contains("CREATE INDEX IF NOT EXISTS t1_idx0 ON ks0.t1 (value);"))
            // Index SSTables are linked under snapshots/<tag>/.<index>/
            let index = table.indexes[0]
            for file in index.sstables.flatMap(\.files) {
                #expect(inode(snapshot.appendingPathComponent(".t1_idx0/\(file.name)")) == inode(file.url))
            }

            let system = try #require(node.table("system", "local"))
            let systemSnapshot = system.directory.appendingPathComponent("snapshots/m")
            #expect(exists(systemSnapshot.appendingPathComponent("manifest.json")))
            #expect(!exists(systemSnapshot.appendingPathComponent("schema.cql")))
        }
    }

    @Test("-kt snapshots only the named tables")
    func ktFilter() throws {
        try withNode({
            $0.keyspaces = 2
            $0.tablesPerKeyspace = 3
        }) { node in
            let result = run(["snapshot", "-t", "kt", "-kt", "ks0.t1,ks1.t2"], node: node)
            #expect(result.exitCode == 0, "\(result.standardError)")
            #expect(
                result.standardOutput
                    == "Requested creating snapshot(s) for [ks0.t1,ks1.t2] with snapshot name [kt] and options {skipFlush=false}\nSnapshot directory: kt\n"
            )
            let snapshotted = node.tables.filter {
                exists($0.directory.appendingPathComponent("snapshots/kt"))
            }
            #expect(snapshotted.map { "\($0.keyspace).\($0.name)" } == ["ks0.t1", "ks1.t2"])

            let keyspace = run(["snapshot", "-t", "ks", "ks1"], node: node)
            #expect(keyspace.exitCode == 0)
            #expect(
                keyspace.standardOutput.hasPrefix(
                    "Requested creating snapshot(s) for [ks1] with snapshot name [ks]"))
            let inKeyspace = node.tables.filter {
                exists($0.directory.appendingPathComponent("snapshots/ks"))
            }
            #expect(Set(inKeyspace.map(\.keyspace)) == ["ks1"] && inKeyspace.count == 3)

            let cf = run(["snapshot", "-t", "cf", "-cf", "t0", "ks0"], node: node)
            #expect(cf.exitCode == 0)
            #expect(
                node.tables.filter { exists($0.directory.appendingPathComponent("snapshots/cf")) }.count == 1)

            let unknown = run(["snapshot", "-t", "x", "-kt", "ks0.nope"], node: node)
            #expect(unknown.exitCode == 2)
            #expect(
                unknown.standardError.hasPrefix(
                    "error: Table nope does not exist in keyspace ks0\n-- StackTrace --\n"))
        }
    }

    @Test("an existing tag is an error and changes nothing")
    func duplicateTag() throws {
        try withNode({ $0.tablesPerKeyspace = 2 }) { node in
            #expect(run(["snapshot", "-t", "dup", "-kt", "ks1.t1"], node: node).exitCode == 0)
            let before = regularFiles(under: node.root)
            let result = run(["snapshot", "-t", "dup"], node: node)
            #expect(result.exitCode == 2)
            #expect(result.standardError.hasPrefix("error: Snapshot dup already exists.\n-- StackTrace --\n"))
            #expect(regularFiles(under: node.root) == before)
            #expect(throws: FakeNodetool.CommandError.self) {
                try node.nodetool().snapshot(tag: "dup", keyspaces: ["ks1"])
            }
            // Another keyspace does not hold the tag yet.
            let other = try node.nodetool().snapshot(tag: "dup", keyspaces: ["ks0"])
            #expect(other.tables.count == 2)
            #expect(run(["snapshot", "-t", "a:b"], node: node).exitCode == 2)
        }
    }

    @Test("clearsnapshot removes one tag, or all with --all")
    func clearSnapshot() throws {
        try withNode { node in
            let nodetool = node.nodetool()
            try nodetool.snapshot(tag: "a")
            try nodetool.snapshot(tag: "b")
            let one = run(["clearsnapshot", "-t", "a"], node: node)
            #expect(one.exitCode == 0)
            #expect(
                one.standardOutput
                    == "Requested clearing snapshot(s) for [all keyspaces] with snapshot name [a]\n")
            for table in node.tables {
                #expect(names(in: table.directory.appendingPathComponent("snapshots")) == ["b"])
                #expect(linkCount(table.sstables[0].dataFile.url) == 2)
            }
            #expect(run(["clearsnapshot"], node: node).exitCode == 2)
            let all = run(["clearsnapshot", "--all"], node: node)
            #expect(
                all.standardOutput
                    == "Requested clearing snapshot(s) for [all keyspaces] with [all snapshots]\n")
            for table in node.tables {
                #expect(names(in: table.directory.appendingPathComponent("snapshots")).isEmpty)
                #expect(linkCount(table.sstables[0].dataFile.url) == 1)
            }
        }
    }

    @Test("listsnapshots shows sizes; true size grows once the SSTables are compacted away")
    func listSnapshots() throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 2
        }) { node in
            #expect(
                run(["listsnapshots"], node: node).standardOutput
                    == "Snapshot Details: \nThere are no snapshots\n")
            let nodetool = node.nodetool()
            try nodetool.snapshot(tag: "s1")
            var details = try nodetool.listSnapshots()
            #expect(details.map(\.table) == ["t0", "t1"])
            let t0 = try #require(node.table("ks0", "t0"))
            let metadata = names(in: t0.directory.appendingPathComponent("snapshots/s1")).subtracting(
                t0.sstables.flatMap(\.fileNames)
            )
            .map { FS.size(t0.directory.appendingPathComponent("snapshots/s1/\($0)").path) }.reduce(0, +)
            #expect(details[0].sizeOnDisk == t0.sstables.reduce(0) { $0 + $1.totalSize } + metadata)
            #expect(details[0].trueSize == metadata)

            try nodetool.compact(keyspace: "ks0", tables: ["t0"])
            details = try nodetool.listSnapshots()
            #expect(details[0].trueSize == details[0].sizeOnDisk)
            #expect(details[1].trueSize == metadataSize(of: node.table("ks0", "t1")!, tag: "s1"))

            let text = run(["listsnapshots"], node: node).standardOutput
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines[0] == "Snapshot Details: ")
            #expect(
                lines[1].hasPrefix(
                    "Snapshot name Keyspace name Column family name True size Size on disk Creation time"))
            #expect(lines[2].hasPrefix("s1            ks0           t0                 "))
            #expect(
                text.contains(
                    "\nTotal TrueDiskSpaceUsed: \(FakeNodetool.humanSize(details[0].trueSize + details[1].trueSize))\n"
                ))
        }
    }

    private func metadataSize(of table: TableFixture, tag: String) -> Int {
        ["manifest.json", "schema.cql"].map {
            FS.size(table.directory.appendingPathComponent("snapshots/\(tag)/\($0)").path)
        }
        .reduce(0, +)
    }

    @Test("JBOD: links stay on their disk; manifest and schema go to the first data directory")
    func jbodSnapshot() throws {
        try withNode({
            $0.dataDirectoryCount = 2
            $0.sstablesPerTable = 4
        }) { node in
            let environment = [
                "FAKE_NODETOOL_DATA_DIR": node.dataDirectories.map(\.path).joined(separator: ":")
            ]
            let result = FakeNodetool.runCommandLine(["snapshot", "-t", "j"], environment: environment)
            #expect(result.exitCode == 0, "\(result.standardError)")
            let table = node.tables[0]
            let first = table.directories[0].appendingPathComponent("snapshots/j")
            let second = table.directories[1].appendingPathComponent("snapshots/j")
            #expect(
                names(in: first)
                    == Set(
                        ["nb-1-big-", "nb-3-big-"].flatMap { p in
                            table.sstables.first { $0.prefix == p }!.fileNames
                        } + ["manifest.json", "schema.cql"]))
            #expect(
                names(in: second)
                    == Set(
                        ["nb-2-big-", "nb-4-big-"].flatMap { p in
                            table.sstables.first { $0.prefix == p }!.fileNames
                        }))
            let json =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: first.appendingPathComponent("manifest.json"))) as? [String: Any]
            #expect(
                json?["files"] as? [String] == [
                    "nb-1-big-Data.db", "nb-3-big-Data.db", "nb-2-big-Data.db", "nb-4-big-Data.db",
                ])
        }
    }

    @Test("a snapshot taken during slow flushes never links a partial SSTable")
    func snapshotDuringFlush() throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 2
            $0.sstablesPerTable = 1
        }) { node in
            let nodetool = node.nodetool()
            var options = FakeNodetool.FlushOptions()
            options.dataSize = 256 * 1024
            options.chunkSize = 16 * 1024
            options.writeDelayMilliseconds = 2
            let flushOptions = options
            let flusher = BackgroundWork {
                for _ in 0..<4 { try nodetool.flush(keyspace: "ks0", tables: ["t0"], options: flushOptions) }
            }
            var tags: [String] = []
            for i in 0..<30 {
                try nodetool.snapshot(tag: "race\(i)", tables: [.init("ks0", "t0")])
                tags.append("race\(i)")
                Thread.sleep(forTimeInterval: 0.005)
            }
            try flusher.value()
            try nodetool.snapshot(tag: "race-final", tables: [.init("ks0", "t0")])
            tags.append("race-final")
            let table = node.tables.first { $0.name == "t0" }!
            var flushedSeen = 0
            for tag in tags {
                let snapshot = table.directory.appendingPathComponent("snapshots/\(tag)")
                let files = names(in: snapshot).filter { $0.hasSuffix("-Data.db") }
                for data in files {
                    let prefix = String(data.dropLast("Data.db".count))
                    if prefix != "nb-1-big-" { flushedSeen += 1 }
                    let digest = try readText(snapshot.appendingPathComponent(prefix + "Digest.crc32"))
                    #expect(
                        digest == String(try crc32(of: snapshot.appendingPathComponent(data))),
                        "\(tag)/\(data)")
                    #expect(
                        names(in: snapshot).filter { $0.hasPrefix(prefix) }.count == 8, "\(tag)/\(prefix)")
                }
            }
            #expect(flushedSeen >= 4)
        }
    }
}
