import CassnapAPI
import CassnapClient
import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

let agentToken = "agent-secret-token"
let adminToken = "admin-secret-token"
let clusterName = "Test Cluster"

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds or `seconds` pass. Every wait in these tests is bounded, and
/// generously: the parallel phase of `make test` loads two cores so that a simple HTTP round trip
/// can wait 20 s (seen in CI).
func eventually(_ what: String, seconds: Double = 90, _ condition: () async throws -> Bool) async throws {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TimedOut(what: what)
}

func configuration(directory: URL, store: String = "memory://test") -> CoordinatorConfiguration {
    var c = CoordinatorConfiguration()
    c.listen = "127.0.0.1:0"
    c.database = directory.appendingPathComponent("catalog.sqlite").path
    c.store = store
    c.cluster = clusterName
    c.agentToken = agentToken
    c.adminToken = adminToken
    c.snapshots.schedulerIntervalSeconds = 0.2
    return c
}

/// A coordinator built by the production builder, serving on a real loopback socket.
final class InProcessCoordinator: Sendable {
    let port: Int
    let catalog: any Catalog
    let schedules: ScheduleService
    let snapshots: SnapshotService
    let routes: [RouteDescription]
    let admin: CoordinatorClient
    let agents: CoordinatorClient
    private let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static func start(_ configuration: CoordinatorConfiguration, store: any ObjectStore) async throws
        -> InProcessCoordinator
    {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let coordinator = try buildApplication(
            configuration: configuration, store: store, onListening: { continuation.yield($0) })
        let task = Task { try await coordinator.run() }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            continuation.finish()
        }
        defer { timeout.cancel() }
        guard let port = await ports.first(where: { _ in true }) else {
            task.cancel()
            throw TimedOut(what: "the coordinator to listen")
        }
        return InProcessCoordinator(
            port: port, catalog: coordinator.catalog, schedules: coordinator.schedules,
            snapshots: coordinator.snapshots, routes: coordinator.routes, task: task)
    }

    private init(
        port: Int, catalog: any Catalog, schedules: ScheduleService, snapshots: SnapshotService,
        routes: [RouteDescription], task: Task<Void, any Error>
    ) {
        self.port = port
        self.catalog = catalog
        self.schedules = schedules
        self.snapshots = snapshots
        self.routes = routes
        self.task = task
        admin = CoordinatorClient(baseURL: "http://127.0.0.1:\(port)", token: adminToken)
        agents = CoordinatorClient(baseURL: "http://127.0.0.1:\(port)", token: agentToken)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    /// A coordinator on a fresh directory and an in-memory store for `body`, stopped (and
    /// awaited) before the directory goes, whether `body` returns or throws.
    static func with<T>(
        configure: (inout CoordinatorConfiguration) -> Void = { _ in },
        _ body: (InProcessCoordinator, InMemoryObjectStore) async throws -> T
    ) async throws -> T {
        try await TemporaryDirectory.with { dir in
            let store = InMemoryObjectStore()
            var c = configuration(directory: dir)
            configure(&c)
            return try await running(c, store: store) { try await body($0, store) }
        }
    }

    /// A coordinator on `configuration` for `body`, stopped (and awaited) whether `body`
    /// returns or throws.
    static func running<T>(
        _ configuration: CoordinatorConfiguration, store: any ObjectStore,
        _ body: (InProcessCoordinator) async throws -> T
    ) async throws -> T {
        let coordinator = try await start(configuration, store: store)
        do {
            let result = try await body(coordinator)
            await coordinator.stop()
            return result
        } catch {
            await coordinator.stop()
            throw error
        }
    }
}

/// Plays one agent through the HTTP API: registers, heartbeats, and on a snapshot command
/// uploads its SSTables to the pool, reports them, writes its manifest last and reports it.
struct SimulatedNode: Sendable {
    let host: HostID
    let hostname: String
    let client: CoordinatorClient
    let store: any ObjectStore
    let keys: ObjectKeys
    /// SSTables per table; two tables per node.
    var sstablesPerTable = 2

    init(index: Int, baseURL: String, store: any ObjectStore, caFile: String? = nil) throws {
        host = try HostID(String(format: "6f1c2a4e-0000-4000-8000-%012d", index))
        hostname = "node\(index)"
        client = CoordinatorClient(baseURL: baseURL, token: agentToken, caFile: caFile)
        self.store = store
        keys = ObjectKeys(cluster: try ClusterName(clusterName))
    }

    func registration() -> AgentAPI.Registration {
        AgentAPI.Registration(
            hostID: host, hostname: hostname, cluster: clusterName, datacenter: "dc1", rack: "rack1",
            tokens: ["-9000", "42"], cassandraVersion: "4.1.3", dataDirectories: ["/var/lib/cassandra/data"],
            agentVersion: CassnapVersion.string)
    }

    func join() async throws {
        _ = try await client.register(registration())
        try await heartbeat()
    }

    func heartbeat() async throws {
        _ = try await client.heartbeat(
            host,
            AgentAPI.Heartbeat(
                agentTime: Date().addingTimeInterval(60), queuedFiles: 3, oldestQueuedAge: 1.5,
                uploadedFiles: 10,
                uploadedBytes: 1000))
    }

    /// The one snapshot command due, polled with a bounded long-poll.
    func nextCommand() async throws -> AgentAPI.SnapshotCommand {
        for _ in 0..<10 {
            if let command = try await client.commands(host, wait: 2).first?.snapshot { return command }
        }
        throw TimedOut(what: "a snapshot command for \(hostname)")
    }

    static let components = ["Data.db", "Index.db", "Statistics.db", "TOC.txt"]
    static let tables: [(keyspace: String, table: String, id: String)] = [
        ("shop", "orders", "5a1c395e-b41f-11e5-9f22-ba0be0483c18"),
        ("shop", "customers", "7b2d4a6f-b41f-11e5-9f22-ba0be0483c18"),
    ]

    /// Uploads the pool objects and reports them; answers the manifest listing them.
    func uploadSnapshot(_ command: AgentAPI.SnapshotCommand, reportFiles: Bool = true) async throws
        -> NodeManifest
    {
        var tables: [NodeManifest.Table] = []
        var reports: [AgentAPI.FileReport] = []
        for t in Self.tables {
            let tableID = try TableID(t.id)
            let ref = try TableRef(keyspace: t.keyspace, table: t.table, id: tableID)
            var sstables: [NodeManifest.SSTable] = []
            for generation in 1...sstablesPerTable {
                let name = "nb-\(generation)-big"
                var files: [NodeManifest.File] = []
                for component in Self.components {
                    let fileName = "\(name)-\(component)"
                    let pooled = try PooledFile(
                        host: host, table: ref, indexName: nil, file: SSTableFileName.parse(fileName))
                    let key = keys.primaryKey(for: pooled)
                    let bytes = Array("\(hostname) \(t.table) \(fileName) \(generation)".utf8)
                    let info = try await store.put(key: key, source: .bytes(bytes))
                    let sha = try SHA256Digest(hex: info.sha256!)
                    files.append(
                        NodeManifest.File(fileName: fileName, size: info.size, sha256: sha, objectKey: key))
                    reports.append(
                        AgentAPI.FileReport(
                            keyspace: t.keyspace, table: t.table, tableID: tableID, indexName: nil,
                            fileName: fileName,
                            size: info.size, sha256: sha.hex, objectKey: key, uploadedAt: Date()))
                }
                sstables.append(NodeManifest.SSTable(name: name, files: files))
            }
            tables.append(
                NodeManifest.Table(
                    keyspace: t.keyspace, table: t.table, tableID: tableID, snapshotFiles: [],
                    sstables: sstables))
        }
        if reportFiles {
            _ = try await client.reportFiles(
                host, AgentAPI.Batch(reportID: "files-\(UUID())", items: reports))
        }
        let schemaKey = keys.key(for: .nodeSchema(host: host, tag: command.tag))
        let schema = try await store.put(key: schemaKey, source: .string("CREATE KEYSPACE shop;"))
        return NodeManifest(
            cluster: keys.cluster,
            node: NodeManifest.Node(
                hostID: host, hostname: hostname, datacenter: "dc1", rack: "rack1", tokens: ["-9000", "42"],
                cassandraVersion: "4.1.3"),
            tag: command.tag, takenAt: command.at.addingTimeInterval(0.01 * Double(hostname.count)),
            nodeFiles: [
                NodeManifest.File(
                    fileName: "schema.cql", size: schema.size, sha256: try SHA256Digest(hex: schema.sha256!),
                    objectKey: schemaKey)
            ],
            tables: tables)
    }

    /// Writes the manifest (last) and builds its report.
    func writeManifest(_ manifest: NodeManifest, for command: AgentAPI.SnapshotCommand) async throws
        -> AgentAPI.ManifestReport
    {
        let key = keys.key(for: .nodeManifest(host: host, tag: command.tag))
        _ = try await store.put(key: key, source: .bytes(Array(manifest.encoded())))
        return AgentAPI.ManifestReport(
            snapshotID: command.snapshotID, tag: command.tag, manifestKey: key, takenAt: manifest.takenAt,
            files: manifest.allFiles.count, bytes: manifest.totalSize, error: nil)
    }

    /// The whole node side of a snapshot.
    @discardableResult
    func takeSnapshot() async throws -> NodeManifest {
        let command = try await nextCommand()
        let manifest = try await uploadSnapshot(command)
        let report = try await writeManifest(manifest, for: command)
        _ = try await client.reportManifests(
            host, AgentAPI.Batch(reportID: "manifest-\(UUID())", items: [report]))
        return manifest
    }
}

/// What an admin sees, for "nothing changed" and "same answers" comparisons.
struct CatalogView: Equatable {
    var summaries: [AdminAPI.SnapshotSummary]
    var details: [AdminAPI.SnapshotDetail]
    var sstables: [[AdminAPI.SnapshotSSTable]]

    static func of(_ catalog: any Catalog) async throws -> CatalogView {
        let summaries = try await catalog.summaries()
        var details: [AdminAPI.SnapshotDetail] = []
        var sstables: [[AdminAPI.SnapshotSSTable]] = []
        for s in summaries {
            if let d = try await catalog.detail(s.id) { details.append(d) }
            sstables.append(try await catalog.sstables(s.id, filter: SSTableFilter()))
        }
        return CatalogView(summaries: summaries, details: details, sstables: sstables)
    }
}

extension SimulatedNode {
    /// `count` simulated agents, registered and heartbeating, as most cluster tests start.
    static func joined(_ count: Int, to coordinator: InProcessCoordinator, store: any ObjectStore)
        async throws
        -> [SimulatedNode]
    {
        let nodes = try (1...count).map {
            try SimulatedNode(index: $0, baseURL: coordinator.baseURL, store: store)
        }
        for node in nodes { try await node.join() }
        return nodes
    }
}

/// A fresh, empty catalog in `directory`, rebuilt from `store` alone.
func rebuiltCatalog(from store: any ObjectStore, in directory: URL) async throws -> (
    SQLiteCatalog, AdminAPI.RebuildResult
) {
    let fresh = try SQLiteCatalog(
        path: directory.appendingPathComponent("rebuilt.sqlite").path, cluster: ClusterName(clusterName))
    let keys = ObjectKeys(cluster: try ClusterName(clusterName))
    return (fresh, try await CatalogRebuilder(store: store, keys: keys).rebuild(into: fresh))
}
