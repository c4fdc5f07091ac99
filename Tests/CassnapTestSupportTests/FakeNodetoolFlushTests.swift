import Foundation
import Testing

@testable import CassnapTestSupport

@Suite("FakeNodetool flush and compact")
struct FakeNodetoolFlushTests {
    @Test("flush writes the next generation and removes its transaction log")
    func flushWritesNextGeneration() throws {
        try withNode({ $0.sstablesPerTable = 3 }) { node in
            let table = try #require(node.table("ks0", "t0"))
            let result = run(["flush", "ks0", "t0", "--size", "20K"], node: node)
            #expect(result.exitCode == 0 && result.standardOutput.isEmpty, "\(result.standardError)")
            let expected = Set(SSTableFixture.Format.nb.components().map { "nb-4-big-" + $0 })
            let onDisk = names(in: table.directory)
            #expect(onDisk.isSuperset(of: expected))
            #expect(!onDisk.contains { $0.hasSuffix(".log") })
            #expect(FS.size(table.directory.appendingPathComponent("nb-4-big-Data.db").path) == 20 * 1024)
            let digest = try readText(table.directory.appendingPathComponent("nb-4-big-Digest.crc32"))
            #expect(
                digest == String(try crc32(of: table.directory.appendingPathComponent("nb-4-big-Data.db"))))
            // Only ks0.t0 was flushed, and with backups off nothing went to backups/.
            #expect(node.tables.filter { names(in: $0.directory).contains("nb-4-big-Data.db") }.count == 1)
            #expect(names(in: table.directory.appendingPathComponent("backups")).isEmpty)
        }
    }

    @Test("while a flush writes, its log holds an ADD record naming the new SSTable")
    func transactionLogDuringFlush() throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 2
        }) { node in
            let directory = node.tables[0].directory
            let nodetool = node.nodetool()
            var options = FakeNodetool.FlushOptions()
            options.dataSize = 64 * 1024
            options.chunkSize = 4 * 1024
            options.writeDelayMilliseconds = 20
            let flushOptions = options
            let flush = BackgroundWork { try nodetool.flush(options: flushOptions) }
            var log: String?
            let deadline = Date().addingTimeInterval(30)
            while log == nil && Date() < deadline {
                if let name = names(in: directory).first(where: {
                    $0.hasPrefix("nb_txn_flush_") && $0.hasSuffix(".log")
                }) {
                    log = try? readText(directory.appendingPathComponent(name))
                    if log?.isEmpty == true { log = nil }
                }
                Thread.sleep(forTimeInterval: 0.002)
            }
            let written = try flush.value()
            let text = try #require(log)
            let record = "ADD:[\(directory.path)/nb-3-big-,0,8]"
            #expect(text.hasPrefix(record + "[\(CRC32.checksum(Array(record.utf8)))]\n"))
            #expect(!text.contains("COMMIT"))
            #expect(written.map(\.prefix) == ["nb-3-big-"])
            #expect(!names(in: directory).contains { $0.hasSuffix(".log") })
        }
    }

    @Test("next generation counts backups/; a wiped directory reuses generations")
    func generationsCountBackups() throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 2
        }) { node in
            let table = node.tables[0]
            try Data("x".utf8).write(to: table.directory.appendingPathComponent("backups/nb-50-big-Data.db"))
            let afterBackups = try node.nodetool().flush()
            #expect(afterBackups.map(\.generation) == [51])
            try FS.removeTree(table.directory.path)
            try FS.makeDirectory(table.directory.path)
            let afterWipe = try node.nodetool().flush()
            #expect(afterWipe.map(\.generation) == [1])
        }
    }

    @Test(
        "with incremental backups on, a flush links its SSTable into backups/",
        arguments: ["env", "marker", "command"])
    func incrementalBackups(_ how: String) throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 1
            $0.secondaryIndexesPerTable = 1
        }) { node in
            var environment: [String: String] = [:]
            switch how {
            case "env": environment["FAKE_NODETOOL_INCREMENTAL_BACKUPS"] = "1"
            case "marker":
                try Data().write(
                    to: node.root.appendingPathComponent(FakeNodetool.incrementalBackupsMarkerName))
            default:
                #expect(run(["statusbackup"], node: node).standardOutput == "not running\n")
                #expect(run(["enablebackup"], node: node).exitCode == 0)
                #expect(run(["statusbackup"], node: node).standardOutput == "running\n")
            }
            #expect(run(["flush"], node: node, environment: environment).exitCode == 0)
            let table = node.tables[0]
            let backups = table.directory.appendingPathComponent("backups")
            #expect(
                names(in: backups).subtracting([".t0_idx0"])
                    == Set(SSTableFixture.Format.nb.components().map { "nb-2-big-" + $0 }))
            for name in names(in: backups) where name.hasPrefix("nb-") {
                #expect(
                    inode(backups.appendingPathComponent(name))
                        == inode(table.directory.appendingPathComponent(name)))
            }
            #expect(names(in: backups.appendingPathComponent(".t0_idx0")).count == 8)

            // Turned off, the next flush leaves backups/ alone.
            environment["FAKE_NODETOOL_INCREMENTAL_BACKUPS"] = "0"
            #expect(run(["flush"], node: node, environment: environment).exitCode == 0)
            #expect(!names(in: backups).contains("nb-3-big-Data.db"))
            #expect(names(in: table.directory).contains("nb-3-big-Data.db"))
        }
    }

    @Test("compact replaces the inputs with one merged SSTable")
    func compactReplacesInputs() throws {
        try withNode({
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 2
            $0.sstablesPerTable = 4
            $0.incrementalBackups = true
        }) { node in
            let table = try #require(node.table("ks0", "t1"))
            let result = try node.nodetool().compact(keyspace: "ks0", tables: ["t1"])
            #expect(result.count == 1)
            let compaction = try #require(result.first)
            #expect(compaction.inputs.map(\.generation) == [1, 2, 3, 4])
            #expect(compaction.output.generation == 5)
            #expect(compaction.output.dataFile.size == table.sstables.reduce(0) { $0 + $1.dataFile.size })
            let onDisk = names(in: table.directory).subtracting(["backups"])
            #expect(onDisk == Set(compaction.output.fileNames))
            // Compaction output is not an incremental backup; the other table is untouched.
            #expect(names(in: table.directory.appendingPathComponent("backups")).isEmpty)
            let other = try #require(node.table("ks0", "t0"))
            #expect(
                names(in: other.directory).subtracting(["backups"])
                    == Set(other.sstables.flatMap(\.fileNames)))
            #expect(run(["compact", "ks0"], node: node).exitCode == 0)
            #expect(names(in: other.directory).subtracting(["backups"]).count == 8)
        }
    }

    @Test("flush keeps the table's format and id style")
    func flushKeepsFormat() throws {
        try withNode({
            $0.format = .da
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
        }) { node in
            let written = try node.nodetool().flush()
            #expect(written.first?.prefix == "da-4-bti-")
            #expect(written.first?.files.contains { $0.component == "Partitions.db" } == true)
        }
        try withNode({
            $0.identifiers = .timeUUID
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
        }) { node in
            let existing = node.tables[0].sstables.map(\.id)
            let written = try #require(try node.nodetool().flush().first)
            #expect(written.generation == nil && written.id.count == 28)
            #expect(!existing.contains(written.id))
        }
    }
}
