import CassnapCore
import CassnapObjectStore
import CassnapStoreFactory
import CassnapTestSupport
import Foundation
import Synchronization
import Testing

@testable import CassnapAgent

/// The pipeline in-process against the filesystem store, with `runOnce` (no timing involved).
@Suite struct AgentPipelineTests {
    typealias S = AgentTestSupport

    struct Setup {
        var root: URL
        var node: CassandraNodeFixture
        var storeURL: String
        var configuration: AgentConfiguration
        var store: any ObjectStore
        var roots: [String] { node.dataDirectories.map(\.path) }
        var nodetool: FakeNodetool { FakeNodetool(dataDirectories: node.dataDirectories) }
    }

    static func setup(_ root: URL, tables: Int = 2, sstables: Int = 3) throws -> Setup {
        var builder = CassandraDataBuilder.Configuration()
        builder.keyspaces = 1
        builder.tablesPerKeyspace = tables
        builder.sstablesPerTable = sstables
        builder.hostID = UUID(uuidString: S.hostID)
        let node = try CassandraDataBuilder(root: root.appendingPathComponent("node"), configuration: builder)
            .build()
        let storeURL = "file://" + root.appendingPathComponent("bucket").path
        let configuration = S.configuration(
            node: node, store: storeURL, state: root.appendingPathComponent("state"))
        return Setup(
            root: root, node: node, storeURL: storeURL, configuration: configuration,
            store: try ObjectStoreFactory.open(url: storeURL))
    }

    @Test func onceShipsSnapshotsAndHardLinksOnce() async throws {
        try await TemporaryDirectory.with { root in
            var s = try Self.setup(root)
            s.configuration.watch.live = true
            try s.nodetool.snapshot(tag: "first")
            try s.nodetool.snapshot(tag: "second")
            let agent = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            let summary = try await agent.runOnce()
            #expect(summary.succeeded, "\(summary)")

            // Live file, two snapshot links: one inode, one object, three paths uploaded.
            let live = s.node.sstables.flatMap(\.files)
            // Plus manifest.json and schema.cql per table per tag.
            #expect(try await agent.state.uploadedObjectCount() == live.count + 2 * 2 * 2)
            let expected = S.expectedFiles(s.roots)
            #expect(try await S.verify(expected, in: s.store).isEmpty)
            for file in live {
                #expect(try await agent.state.file(path: file.url.path)?.status == .uploaded)
            }
            let pool = try await s.store.list(prefix: S.keys.nodeRoot(S.host) + "data/")
            #expect(pool.count == live.count)
            #expect(!pool.contains { $0.key.contains(PooledFile.collisionMarker) })
            // Reports for the coordinator wait in the outbox: one per uploaded pool object.
            #expect(try await agent.state.outboxCount(kind: .files) == live.count)
            #expect(try await agent.state.outboxCount(kind: .sstableEvents) == s.node.sstables.count)
        }
    }

    @Test func backlogBeyondTheQueueWindowShipsEveryFileOnce() async throws {
        try await TemporaryDirectory.with { root in
            var s = try Self.setup(root, tables: 4, sstables: 5)
            s.configuration.watch.live = true
            try s.nodetool.snapshot(tag: "first")
            // 4 tables x 5 SSTables x 8 components, three links each, through a window of 7.
            let agent = try await Agent.build(
                configuration: s.configuration, once: true, logger: S.logger, queueCapacity: 7)
            let summary = try await agent.runOnce()
            #expect(summary.succeeded, "\(summary)")
            let live = s.node.sstables.flatMap(\.files)
            #expect(try await agent.state.uploadedObjectCount() == live.count + 4 * 2)
            #expect(try await S.verify(S.expectedFiles(s.roots), in: s.store).isEmpty)
            #expect(try await agent.state.statusCounts()[.pending, default: 0] == 0)
            #expect(try await agent.state.paths(status: .uploaded).count == 2 * live.count + 4 * 2)
        }
    }

    @Test func ignoredTagsTransactionLogsAndTemporaryFilesDoNotShip() async throws {
        try await TemporaryDirectory.with { root in
            let s = try Self.setup(root, tables: 1, sstables: 2)
            try s.nodetool.snapshot(tag: "2f1e0b5c-3d4a-11ef-9a1b-0242ac120002")  // repair session
            try s.nodetool.snapshot(tag: "truncated-1700000000000-t0")
            try s.nodetool.snapshot(tag: "dropped-1700000000000-t0")
            try s.nodetool.snapshot(tag: "keep")
            let table = s.node.tables[0].directories[0]
            try "ADD:[x,0,8][1]\n".write(
                to: table.appendingPathComponent("snapshots/keep/nb_txn_flush_1.log"), atomically: false,
                encoding: .utf8)
            try "x".write(
                to: table.appendingPathComponent("backups/tmp-nb-9-big-Data.db"), atomically: false,
                encoding: .utf8)
            try "x".write(
                to: table.appendingPathComponent("backups/nb-9-big-Data.db.tmp"), atomically: false,
                encoding: .utf8)
            let agent = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            let summary = try await agent.runOnce()
            #expect(summary.succeeded, "\(summary)")
            let all = try await s.store.list(prefix: "")
            let keys = all.map(\.key).filter { !$0.hasPrefix(".cassnap") }
            #expect(keys.allSatisfy { $0.contains("/snapshots/keep/") || $0.contains("/data/") }, "\(keys)")
            #expect(!keys.contains { $0.contains("_txn_") || $0.contains("tmp") })
            #expect(keys.count == 2 * 8 + 2)  // pool files + manifest.json + schema.cql of "keep"
        }
    }

    @Test func generationReuseKeepsTheOldObjectAndUsesACollisionKey() async throws {
        try await TemporaryDirectory.with { root in
            let s = try Self.setup(root, tables: 1, sstables: 1)
            try s.nodetool.snapshot(tag: "before")
            let first = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            #expect(try await first.runOnce().succeeded)
            let sstable = s.node.sstables[0]
            let dataKey = try #require(
                S.expectedKey(sstable.dataFile.url.path, dataDirectories: s.roots))
            let oldSHA = try #require(try await s.store.head(key: dataKey).sha256)

            // The node is wiped and rebuilt: generation 1 is written again with other bytes.
            let tableDirectory = s.node.tables[0].directories[0]
            try FileManager.default.removeItem(at: tableDirectory)
            try FileManager.default.createDirectory(at: tableDirectory, withIntermediateDirectories: true)
            let flushed = try s.nodetool.flush(keyspace: "ks0", tables: ["t0"])
            #expect(flushed[0].dataFile.name == sstable.dataFile.name)
            try s.nodetool.snapshot(tag: "after")
            let second = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            let summary = try await second.runOnce()
            #expect(summary.succeeded, "\(summary)")

            #expect(try await s.store.head(key: dataKey).sha256 == oldSHA)
            let newPath = tableDirectory.appendingPathComponent("snapshots/after/" + sstable.dataFile.name)
                .path
            let newSHA = try S.sha256(newPath)
            #expect(newSHA != oldSHA)
            let record = try #require(try await second.state.file(path: newPath))
            let pooled = try PooledFile(
                host: S.host,
                path: DataPath.classify(path: newPath, dataDirectories: s.roots, isDirectory: false))
            let collisionKey = S.keys.collisionKey(for: pooled, sha256: try SHA256Digest(hex: newSHA))
            #expect(record.objectKey == collisionKey)
            #expect(try await s.store.head(key: collisionKey).sha256 == newSHA)
        }
    }

    /// The file grows after the store took its bytes: the key keeps what was sent, the agent's
    /// listing cache says so, and the next try ships the new bytes under the collision key
    /// rather than over them.
    @Test func aFileChangedAfterItsPutShipsAgainUnderItsCollisionKey() async throws {
        try await TemporaryDirectory.with { root in
            let s = try Self.setup(root, tables: 1, sstables: 1)
            try s.nodetool.snapshot(tag: "snap")
            let sstable = s.node.sstables[0]
            let path = s.node.tables[0].directories[0]
                .appendingPathComponent("snapshots/snap/" + sstable.dataFile.name).path
            let dataKey = try #require(S.expectedKey(path, dataDirectories: s.roots))
            let oldSHA = try S.sha256(path)
            let grown = Mutex(false)
            let store = HookedStore(
                s.store,
                afterPut: { key, _ in
                    guard key == dataKey,
                        grown.withLock({
                            let first = !$0; $0 = true; return first
                        })
                    else {
                        return
                    }
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data("appended".utf8))
                    try handle.close()
                })
            let agent = try AgentListingTests.agent(s.configuration, store: store)
            let summary = try await agent.runOnce()
            #expect(summary.succeeded, "\(summary)")
            #expect(grown.withLock { $0 })

            let newSHA = try S.sha256(path)
            #expect(newSHA != oldSHA)
            #expect(try await s.store.head(key: dataKey).sha256 == oldSHA)
            #expect(try await agent.state.cachedBucketObject(dataKey)?.sha256 == oldSHA)
            let pooled = try PooledFile(
                host: S.host,
                path: DataPath.classify(path: path, dataDirectories: s.roots, isDirectory: false))
            let collisionKey = S.keys.collisionKey(for: pooled, sha256: try SHA256Digest(hex: newSHA))
            let record = try #require(try await agent.state.file(path: path))
            #expect(record.status == .uploaded)
            #expect(record.objectKey == collisionKey)
            #expect(try await s.store.head(key: collisionKey).sha256 == newSHA)
        }
    }

    @Test func vanishedFilesAreRecordedNotRetried() async throws {
        try await TemporaryDirectory.with { root in
            var s = try Self.setup(root, tables: 1, sstables: 2)
            s.configuration.watch.live = true
            let agent = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            try await agent.scanDisk()  // queued as pending…
            let gone = s.node.sstables[0].dataFile.url.path
            for file in s.node.sstables[0].files {  // …then compacted away
                try FileManager.default.removeItem(at: file.url)
            }
            let summary = try await agent.runOnce()
            #expect(summary.succeeded, "\(summary)")
            #expect(summary.vanished == 8)
            #expect(try await agent.state.file(path: gone)?.status == .vanished)
            let again = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            let second = try await again.runOnce()
            #expect(second.vanished == 0 && second.uploaded == 0)
        }
    }

    @Test func deleteBackupsAfterUploadRemovesOnlyUploadedLinks() async throws {
        try await TemporaryDirectory.with { root in
            var s = try Self.setup(root, tables: 1, sstables: 1)
            s.configuration.upload.deleteBackupsAfterUpload = true
            try FileManager.default.createFile(
                atPath: s.node.root.appendingPathComponent(FakeNodetool.incrementalBackupsMarkerName).path,
                contents: nil)
            let flushed = try s.nodetool.flush(keyspace: "ks0")
            let backups = s.node.tables[0].directories[0].appendingPathComponent("backups")
            let expected = S.expectedFiles(s.roots)
            #expect(expected.count == 8)
            let agent = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            #expect(try await agent.runOnce().succeeded)
            #expect(try FileManager.default.contentsOfDirectory(atPath: backups.path).isEmpty)
            for file in flushed[0].files {
                #expect(FileManager.default.fileExists(atPath: file.url.path))  // the live file stays
                let key = try #require(S.expectedKey(file.url.path, dataDirectories: s.roots))
                #expect(try await s.store.head(key: key).sha256 == (try S.sha256(file.url.path)))
            }
        }
    }

    @Test func incompleteLiveSSTableWaitsForItsTransaction() async throws {
        try await TemporaryDirectory.with { root in
            var s = try Self.setup(root, tables: 1, sstables: 1)
            s.configuration.watch.live = true
            s.configuration.watch.snapshots = false
            let directory = s.node.tables[0].directories[0]
            let prefix = directory.appendingPathComponent("nb-7-big-").path
            try "ADD:[\(prefix),0,8][1]\n".write(
                to: directory.appendingPathComponent("nb_txn_flush_0b8c.log"), atomically: false,
                encoding: .utf8)
            for component in ["Data.db", "TOC.txt"] {
                try (component == "TOC.txt" ? "Data.db\nTOC.txt\n" : "half").write(
                    toFile: prefix + component, atomically: false, encoding: .utf8)
            }
            let agent = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            let summary = try await agent.runOnce()
            #expect(!summary.succeeded)
            #expect(summary.incomplete.sorted() == [prefix + "Data.db", prefix + "TOC.txt"])
            #expect(
                try await s.store.headIfExists(
                    key: S.expectedKey(prefix + "Data.db", dataDirectories: s.roots)!) == nil)
            // Committed: the log is gone, the SSTable ships.
            try FileManager.default.removeItem(at: directory.appendingPathComponent("nb_txn_flush_0b8c.log"))
            let again = try await Agent.build(configuration: s.configuration, once: true, logger: S.logger)
            #expect(try await again.runOnce().succeeded)
            #expect(
                try await s.store.headIfExists(
                    key: S.expectedKey(prefix + "Data.db", dataDirectories: s.roots)!) != nil)
        }
    }
}
