import CassnapAPI
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

#if canImport(Glibc)
    import Glibc
#endif

/// A node snapshot as the coordinator's command runs it, in-process against the filesystem
/// store with the real fake-nodetool executable, real directories and real inotify: opaque
/// files ship and restore byte for byte.
@Suite struct SnapshotRunnerOpaqueTests {
    typealias S = AgentTestSupport

    struct Node {
        var fixture: CassandraNodeFixture
        var configuration: AgentConfiguration
        var nodetool: Nodetool
    }

    static func node(_ root: URL, _ configure: (inout CassandraDataBuilder.Configuration) -> Void) throws
        -> Node
    {
        var builder = CassandraDataBuilder.Configuration()
        builder.keyspaces = 1
        builder.tablesPerKeyspace = 2
        builder.sstablesPerTable = 2
        builder.hostID = UUID(uuidString: S.hostID)
        configure(&builder)
        let fixture = try CassandraDataBuilder(
            root: root.appendingPathComponent("node"), configuration: builder
        )
        .build()
        let wrapper = fixture.root.appendingPathComponent("nodetool").path
        try """
        #!/bin/sh
        FAKE_NODETOOL_DATA_DIR=\(fixture.dataDirectories[0].path) exec \(try TestBinaries.url(for: "fake-nodetool").path) "$@"

        """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        let configuration = S.configuration(
            node: fixture, store: "file://" + root.appendingPathComponent("bucket").path,
            state: root.appendingPathComponent("state"))
        return Node(fixture: fixture, configuration: configuration, nodetool: Nodetool(executable: wrapper))
    }

    /// A generous default deadline: a loaded machine (the whole suite on two cores) is slow, and
    /// a passing snapshot returns as soon as its files are stored.
    static func command(
        _ tag: String, tables: [String] = [], deadline: TimeInterval = 120, clear: Bool = false
    ) throws -> AgentAPI.SnapshotCommand {
        AgentAPI.SnapshotCommand(
            snapshotID: SnapshotID(), tag: try SnapshotTag(tag), at: Date(),
            deadline: Date().addingTimeInterval(deadline), keyspaces: [], tables: tables,
            clearAfterUpload: clear)
    }

    /// Runs `command` on a running agent; returns the report and, when written, the manifest.
    static func run(
        _ node: Node, _ command: AgentAPI.SnapshotCommand, log: CapturedLog = CapturedLog()
    ) async throws -> (AgentAPI.ManifestReport, NodeManifest?, Agent) {
        let agent = try await Agent.build(configuration: node.configuration, logger: log.logger())
        let runner = SnapshotRunner(
            node: agent.context, nodetool: node.nodetool, info: await node.nodetool.nodeInfo(),
            logger: log.logger())
        let report = try await S.withRunningAgent(agent) { await runner.execute(command) }
        var manifest: NodeManifest?
        if let key = report.manifestKey, let data = try await read(key, from: agent.store) {
            manifest = try NodeManifest.decode(from: data)
        }
        return (report, manifest, agent)
    }

    static func read(_ key: String, from store: any ObjectStore) async throws -> Data? {
        let path = NSTemporaryDirectory() + "cassnap-get-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard try await store.headIfExists(key: key) != nil else { return nil }
        _ = try await store.get(key: key, to: path)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Every opaque file of the manifest is in the store with the bytes of the file on disk.
    static func expectOpaqueFilesRestoreByteForByte(
        _ manifest: NodeManifest, tag: String, node: Node, store: any ObjectStore,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for table in manifest.tables {
            let fixture = try #require(node.fixture.table(table.keyspace, table.table))
            for file in table.opaqueFiles {
                let path = fixture.directory.appendingPathComponent(
                    "snapshots/\(tag)/" + (file.index.map { ".\($0)/" } ?? "") + file.fileName)
                let stored = try await read(file.objectKey, from: store)
                #expect(
                    stored == (try Data(contentsOf: path)), "\(file.objectKey)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    @Test func aOneTwoLeveledTableSnapshotsWithItsJSON() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Self.node(root) {
                $0.format = .ic
                $0.leveledManifest = true
            }
            let log = CapturedLog()
            let (report, manifest, agent) = try await Self.run(
                node, try Self.command("lcs-1"), log: log)
            #expect(report.error == nil, "\(report.error ?? "")")
            let written = try #require(manifest)
            #expect(written.node.cassandraVersion == "1.2.19")
            #expect(written.node.cassandraClusterName == "Test Cluster", "from nodetool describecluster")
            #expect(written.tables.map(\.table) == ["t0", "t1"])
            let table = try #require(written.tables.first)
            #expect(table.tableID == nil && table.snapshotFiles.isEmpty)
            #expect(table.opaqueFiles.map(\.fileName) == ["t0.json"])
            #expect(
                table.opaqueFiles.first?.objectKey
                    == S.keys.nodeSnapshotsRoot(S.host) + "lcs-1/ks0/t0/t0.json")
            #expect(table.sstables.count == 2)
            try await Self.expectOpaqueFilesRestoreByteForByte(
                written, tag: "lcs-1", node: node, store: agent.store)
            let announced = log.records("Shipping an unrecognised snapshot file as an opaque file")
            #expect(
                announced.count == 2 && announced.allSatisfy { $0.level == .info },
                "\(announced.map(\.metadata))")
        }
    }

    @Test func fiveZeroSAIAndSASIFilesArePooledWithTheirSSTables() async throws {
        for (format, configure) in [
            (
                SSTableFixture.Format.oa,
                { (c: inout CassandraDataBuilder.Configuration) in c.saiIndexes = ["age_idx"] }
            ),
            (
                SSTableFixture.Format.me,
                { (c: inout CassandraDataBuilder.Configuration) in c.sasiIndexes = ["note_idx"] }
            ),
        ] {
            try await TemporaryDirectory.with { root in
                let node = try Self.node(root) {
                    $0.format = format
                    configure(&$0)
                }
                let (report, manifest, agent) = try await Self.run(
                    node, try Self.command("idx-1"))
                #expect(report.error == nil, "\(format): \(report.error ?? "")")
                let written = try #require(manifest)
                let perSSTable = format == .oa ? 6 + 4 : 1
                for table in written.tables {
                    #expect(table.opaqueFiles.count == perSSTable * table.sstables.count, "\(format)")
                    for file in table.opaqueFiles {
                        guard case .pooledFile(let pooled) = try S.keys.parse(file.objectKey) else {
                            Issue.record("\(file.objectKey) is not a pool key")
                            continue
                        }
                        #expect(table.sstables.map(\.name).contains(pooled.name.sstableName))
                    }
                }
                #expect(report.files == written.allFiles.count)
                try await Self.expectOpaqueFilesRestoreByteForByte(
                    written, tag: "idx-1", node: node, store: agent.store)
            }
        }
    }
}
