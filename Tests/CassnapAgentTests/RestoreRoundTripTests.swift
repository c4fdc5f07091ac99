import CassnapAPI
import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import CassnapRepository
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 10's restore, end to end in-process against real stores (a directory, moto, the GCS
/// emulator): a generated node of every SSTable naming generation is snapshotted by the real
/// `SnapshotRunner`, restored by `Restorer` into an empty directory, and every restored file is
/// compared with the node's `snapshots/<tag>/` directories (names, sizes, SHA-256). A second
/// restore downloads nothing.
@Suite struct RestoreRoundTripTests {
    typealias S = AgentTestSupport
    typealias Runner = SnapshotRunnerOpaqueTests

    /// The stores a backup goes to. Cloud kinds are listed when their server runs, and under
    /// `CI=true` always, where a missing server fails the test instead of skipping it.
    enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case filesystem, s3Moto, gcs

        var available: Bool {
            switch self {
            case .filesystem: true
            case .s3Moto: TestServers.s3Enabled
            case .gcs: TestServers.gcsEnabled
            }
        }

        static var available: [StoreKind] { allCases.filter(\.available) }
        var testDescription: String { rawValue }

        /// A fresh, empty bucket: the store URL and the environment the agent and CLI need.
        func makeBucket(_ root: URL) throws -> (url: String, environment: [String: String]) {
            switch self {
            case .filesystem:
                return ("file://" + root.appendingPathComponent("bucket").path, [:])
            case .s3Moto:
                return try S.motoBucket("roundtrip")
            case .gcs:
                let endpoint = try TestServers.requireGCS()
                let bucket = "roundtrip-\(UInt32.random(in: 0...UInt32.max))"
                let create = try Subprocess.run(
                    URL(fileURLWithPath: "/usr/bin/curl"),
                    [
                        "-sf", "-X", "POST", "-H", "Content-Type: application/json", "-d",
                        "{\"name\":\"\(bucket)\"}", "\(endpoint)/storage/v1/b?project=cassnap-test",
                    ])
                if create.exitCode != 0 {
                    throw S.TestFailure("cannot create GCS bucket \(bucket): \(create.standardError)")
                }
                return (
                    "gs://\(bucket)/backups",
                    [
                        "STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": "cassnap-test",
                        "HOME": NSTemporaryDirectory(),
                    ]
                )
            }
        }
    }

    /// One node layout of the matrix.
    struct Shape: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var configure: @Sendable (inout CassandraDataBuilder.Configuration) -> Void

        static let all: [Shape] = [
            Shape(testDescription: "ic 1.2, leveled manifest") {
                $0.format = .ic
                $0.leveledManifest = true
                $0.secondaryIndexesPerTable = 1
            },
            Shape(testDescription: "ka 2.1, index") {
                $0.format = .ka
                $0.secondaryIndexesPerTable = 1
            },
            Shape(testDescription: "me 3.11, index, SASI, JBOD") {
                $0.format = .me
                $0.secondaryIndexesPerTable = 1
                $0.sasiIndexes = ["note_idx"]
                $0.dataDirectoryCount = 2
            },
            Shape(testDescription: "nb 4.1 sequential, index, JBOD") {
                $0.format = .nb
                $0.identifiers = .sequential
                $0.secondaryIndexesPerTable = 1
                $0.dataDirectoryCount = 2
            },
            Shape(testDescription: "nb 4.1 time-UUID ids, index") {
                $0.format = .nb
                $0.identifiers = .timeUUID
                $0.secondaryIndexesPerTable = 1
            },
            Shape(testDescription: "oa 5.0, SAI, index, JBOD") {
                $0.format = .oa
                $0.saiIndexes = ["age_idx"]
                $0.secondaryIndexesPerTable = 1
                $0.dataDirectoryCount = 2
            },
            Shape(testDescription: "da 5.0 bti, SAI, time-UUID ids") {
                $0.format = .da
                $0.identifiers = .timeUUID
                $0.saiIndexes = ["age_idx"]
            },
        ]
    }

    struct Node {
        var fixture: CassandraNodeFixture
        var configuration: AgentConfiguration
        var nodetool: Nodetool
        var environment: [String: String]
        var host: String { S.hostID }
    }

    /// A small node (1 keyspace, 2 tables, 2 SSTables each unless `configure` says otherwise)
    /// backed up to `bucket`, with a fake-nodetool wrapper that knows every data directory.
    static func node(
        _ root: URL, bucket: (url: String, environment: [String: String]),
        _ configure: (inout CassandraDataBuilder.Configuration) -> Void
    ) throws -> Node {
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
        let dataDirectories = fixture.dataDirectories.map(\.path).joined(separator: ":")
        try """
        #!/bin/sh
        FAKE_NODETOOL_DATA_DIR=\(dataDirectories) exec \(try TestBinaries.url(for: "fake-nodetool").path) "$@"

        """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        let configuration = S.configuration(
            node: fixture, store: bucket.url, state: root.appendingPathComponent("state"))
        return Node(
            fixture: fixture, configuration: configuration, nodetool: Nodetool(executable: wrapper),
            environment: bucket.environment)
    }

    /// Builds the node's agent and runs `body` with a snapshot function while the agent runs.
    static func withAgent<T>(
        _ node: Node,
        _ body: (Agent, (String) async throws -> (AgentAPI.SnapshotCommand, NodeManifest)) async throws -> T
    ) async throws -> T {
        let log = CapturedLog()
        let agent = try await Agent.build(
            configuration: node.configuration, logger: log.logger(), environment: node.environment)
        let runner = SnapshotRunner(
            node: agent.context, nodetool: node.nodetool, info: await node.nodetool.nodeInfo(),
            logger: log.logger())
        return try await S.withRunningAgent(agent) {
            try await body(agent) { tag in
                let command = try Runner.command(tag)
                let report = await runner.execute(command)
                try #require(report.error == nil, "snapshot \(tag): \(report.error ?? "")")
                return (command, try await PruneRaceTests.manifest(report, agent))
            }
        }
    }

    /// What restoring `tag` must produce, as "relative-path size sha256": every file of the
    /// node's `snapshots/<tag>/` directories of all data directories, at
    /// `<host>/<ks>/<table-dir>/[.<index>/]<file>`, and the manifest's node files
    /// (`tokens.json`), which are not on disk.
    static func expectedTree(_ node: Node, tag: String, manifest: NodeManifest) throws -> Set<String> {
        var byPath: [String: String] = [:]
        for dataDirectory in node.fixture.dataDirectories {
            for line in try ClusterEndToEndTests.Cluster.tree(dataDirectory.path) {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                let segments = parts[0].split(separator: "/").map(String.init)
                // <ks>/<table-dir>/snapshots/<tag>/[.<index>/]<file>
                guard segments.count >= 5, segments[2] == "snapshots", segments[3] == tag else { continue }
                let path =
                    "\(node.host)/\(segments[0])/\(segments[1])/" + segments[4...].joined(separator: "/")
                if let other = byPath[path], other != parts[1] {
                    Issue.record("two data directories hold different \(path); a restore can hold one")
                }
                byPath[path] = parts[1]
            }
        }
        for file in manifest.nodeFiles {
            byPath["\(node.host)/\(file.fileName)"] = "\(file.size) \(file.sha256.hex)"
        }
        return Set(byPath.map { "\($0.key) \($0.value)" })
    }

    /// Restores `manifest` into the empty directory `target`, checks it against the snapshot
    /// directories, and restores again to check that nothing is downloaded twice.
    static func expectRoundTrip(
        _ node: Node, _ agent: Agent, _ manifest: NodeManifest, into target: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let plan = try RestorePlan(manifest: manifest, keys: agent.keys)
        let restorer = Restorer(repository: Repository(store: agent.store, keys: agent.keys), concurrency: 4)
        let first = try await restorer.restore([plan], into: target)
        #expect(first.failures.isEmpty, "\(first.failures.prefix(3))", sourceLocation: sourceLocation)
        #expect(first.downloadedFiles == plan.entries.count, sourceLocation: sourceLocation)
        #expect(first.skippedFiles == 0, sourceLocation: sourceLocation)

        let expected = try expectedTree(node, tag: manifest.tag.rawValue, manifest: manifest)
        let restored = try ClusterEndToEndTests.Cluster.tree(target)
        #expect(expected.count == plan.entries.count, sourceLocation: sourceLocation)
        #expect(
            restored == expected,
            "only restored: \(restored.subtracting(expected).sorted().prefix(3)); missing: \(expected.subtracting(restored).sorted().prefix(3))",
            sourceLocation: sourceLocation)

        let second = try await restorer.restore([plan], into: target)
        #expect(second.failures.isEmpty, sourceLocation: sourceLocation)
        #expect(second.downloadedFiles == 0, "a rerun downloaded again", sourceLocation: sourceLocation)
        #expect(second.skippedFiles == plan.entries.count, sourceLocation: sourceLocation)
        #expect(try ClusterEndToEndTests.Cluster.tree(target) == expected, sourceLocation: sourceLocation)
    }

    @Test(arguments: StoreKind.available, Shape.all)
    func everyNamingGenerationRestoresByteForByte(store: StoreKind, shape: Shape) async throws {
        try await TemporaryDirectory.with { root in
            let node = try Self.node(root, bucket: try store.makeBucket(root), shape.configure)
            try await Self.withAgent(node) { agent, snapshot in
                let (_, manifest) = try await snapshot("rt-1")
                #expect(manifest.tables.count == 2)
                try await Self.expectRoundTrip(
                    node, agent, manifest, into: root.appendingPathComponent("restore").path)
            }
        }
    }

    /// A live component replaced by other bytes under the same name: the second snapshot's
    /// manifest lists it under its collision key, and each snapshot restores its own bytes.
    @Test(arguments: StoreKind.available)
    func aCollisionKeyRestoresTheSecondSnapshotsBytes(store: StoreKind) async throws {
        try await TemporaryDirectory.with { root in
            let node = try Self.node(root, bucket: try store.makeBucket(root)) { _ in }
            try await Self.withAgent(node) { agent, snapshot in
                let (_, s1) = try await snapshot("rt-s1")
                let table = try #require(node.fixture.tables.first)
                let victim = try #require(table.sstables.first?.dataFile)
                // Same name and size, other bytes, a new inode (as a rewrite would leave it);
                // written beside the node, not in a watched directory.
                let replacement = node.fixture.root.appendingPathComponent("replacement").path
                var bytes = [UInt8](try Data(contentsOf: victim.url))
                for i in bytes.indices { bytes[i] ^= 0x5a }
                try Data(bytes).write(to: URL(fileURLWithPath: replacement))
                #expect(rename(replacement, victim.url.path) == 0)

                let (_, s2) = try await snapshot("rt-s2")
                let collided = s2.tables.filter { $0.table == table.name }
                    .flatMap { $0.sstables.flatMap(\.files) }.filter { $0.fileName == victim.name }
                #expect(collided.count == 1)
                for file in collided {
                    guard case .pooledFile(let pooled) = try agent.keys.parse(file.objectKey) else {
                        Issue.record("\(file.objectKey) is not a pool key")
                        continue
                    }
                    #expect(
                        pooled.collisionSuffix != nil
                            && file.objectKey
                                == agent.keys.collisionKey(for: pooled.primary, sha256: file.sha256),
                        "\(file.objectKey) is not the collision key")
                }
                try await Self.expectRoundTrip(
                    node, agent, s2, into: root.appendingPathComponent("restore-s2").path)
                try await Self.expectRoundTrip(
                    node, agent, s1, into: root.appendingPathComponent("restore-s1").path)
            }
        }
    }
}
