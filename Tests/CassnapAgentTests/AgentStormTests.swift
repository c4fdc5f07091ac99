import CassnapCore
import CassnapObjectStore
import CassnapStoreFactory
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// The storm of issue 4: `nodetool snapshot` links thousands of files into brand-new
/// directories while flushes (with incremental backups) and a compaction run. Real inotify,
/// real directories; every wait is bounded.
@Suite(.serialized) struct AgentStormTests {
    typealias S = AgentTestSupport

    static func buildNode(_ root: URL, keyspaces: Int, tables: Int, sstables: Int) throws
        -> CassandraNodeFixture
    {
        var builder = CassandraDataBuilder.Configuration()
        builder.keyspaces = keyspaces
        builder.tablesPerKeyspace = tables
        builder.sstablesPerTable = sstables
        builder.incrementalBackups = true
        builder.hostID = UUID(uuidString: S.hostID)
        return try CassandraDataBuilder(root: root.appendingPathComponent("node"), configuration: builder)
            .build()
    }

    /// Snapshot of every table while two flushers and one compaction run.
    static func storm(_ node: CassandraNodeFixture, tag: String, flushes: Int) async throws {
        let nodetool = FakeNodetool(dataDirectories: node.dataDirectories)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await S.blocking { try nodetool.snapshot(tag: tag) } }
            for flusher in 0..<2 {
                group.addTask {
                    try await S.blocking {
                        var options = FakeNodetool.FlushOptions()
                        options.dataSize = 256 << 10
                        options.writeDelayMilliseconds = 1
                        for _ in 0..<flushes {
                            try nodetool.flush(
                                keyspace: "ks\(flusher)", tables: ["t0", "t1"], options: options)
                        }
                    }
                }
            }
            group.addTask {
                _ = try await S.blocking { try nodetool.compact(keyspace: "ks0", tables: ["t1"]) }
            }
            try await group.waitForAll()
        }
    }

    static func checkStore(
        _ store: any ObjectStore, roots: [String], expected: [String: String]
    ) async throws {
        let problems = try await S.verify(expected, in: store)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
        let objects = try await store.list(prefix: S.keys.nodeRoot(S.host))
        // Nothing ignored lands, and nothing lands twice.
        #expect(!objects.contains { $0.key.contains("_txn_") || $0.key.contains("/tmp") })
        #expect(!objects.contains { $0.key.contains(PooledFile.collisionMarker) })
        #expect(objects.count == Set(expected.values).count)
    }

    @Test func stormAgainstTheFileSystemStoreAtFullSize() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Self.buildNode(root, keyspaces: 4, tables: 50, sstables: 20)
            let storeURL = "file://" + root.appendingPathComponent("bucket").path
            var configuration = S.configuration(
                node: node, store: storeURL, state: root.appendingPathComponent("state"))
            configuration.upload.concurrency = 4
            let agent = try await Agent.build(configuration: configuration, logger: S.logger)
            let roots = node.dataDirectories.map(\.path)
            let expected = try await S.withRunningAgent(agent) { () async throws -> [String: String] in
                try await Self.storm(node, tag: "storm", flushes: 10)
                let expected = S.expectedFiles(roots)
                #expect(expected.count >= 32_000 + 400)
                try await S.expectShipped(expected.count, by: agent.state, timeout: 600)
                return expected
            }
            try await Self.checkStore(
                try ObjectStoreFactory.open(url: storeURL), roots: roots, expected: expected)
        }
    }

    @Test(.enabled(if: TestServers.s3Enabled)) func stormAgainstS3() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Self.buildNode(root, keyspaces: 2, tables: 5, sstables: 5)
            let (storeURL, environment) = try S.motoBucket("agent-storm")
            var configuration = S.configuration(
                node: node, store: storeURL, state: root.appendingPathComponent("state"))
            configuration.upload.concurrency = 4
            let agent = try await Agent.build(
                configuration: configuration, logger: S.logger, environment: environment)
            let roots = node.dataDirectories.map(\.path)
            let expected = try await S.withRunningAgent(agent) { () async throws -> [String: String] in
                try await Self.storm(node, tag: "storm", flushes: 3)
                let expected = S.expectedFiles(roots)
                try await S.expectShipped(expected.count, by: agent.state, timeout: 300)
                return expected
            }
            let store = try ObjectStoreFactory.open(url: storeURL, environment: environment)
            try await Self.checkStore(store, roots: roots, expected: expected)
        }
    }
}
