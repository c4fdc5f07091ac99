import CassnapAPI
import CassnapCLI
import CassnapClient
import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A `cassnap-coordinator run` process on a free loopback port, with a `file://` store.
final class CoordinatorProcess: @unchecked Sendable {
    let port: Int
    let directory: URL
    private var process: Process?

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var storeURL: String { "file://" + directory.appendingPathComponent("bucket").path }
    var admin: CoordinatorClient { CoordinatorClient(baseURL: baseURL, token: adminToken) }
    var pid: Int32? { process?.processIdentifier }

    init(directory: URL) throws {
        self.directory = directory
        port = try freePort()
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("bucket"), withIntermediateDirectories: true)
    }

    func start() async throws {
        let process = Process()
        process.executableURL = try TestBinaries.url(for: "cassnap-coordinator")
        process.arguments = [
            "run", "--listen", "127.0.0.1:\(port)", "--db",
            directory.appendingPathComponent("catalog.sqlite").path,
            "--store", storeURL, "--cluster", clusterName, "--log-level", "warning",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["CASSNAP_AGENT_TOKEN"] = agentToken
        environment["CASSNAP_ADMIN_TOKEN"] = adminToken
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(
            forWritingTo: {
                let url = directory.appendingPathComponent("coordinator.log")
                if !FileManager.default.fileExists(atPath: url.path) {
                    FileManager.default.createFile(atPath: url.path, contents: nil)
                }
                return url
            }())
        try process.run()
        self.process = process
        let admin = self.admin
        try await eventually("cassnap-coordinator to answer") {
            (try? await admin.nodes()) != nil
        }
    }

    /// SIGKILL: no graceful shutdown, no chance to flush anything.
    func kill9() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func stop() {
        guard let process else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }

    deinit { stop() }
}

/// A port the kernel just handed out and released.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TimedOut(what: "a socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw TimedOut(what: "bind") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs the built `cassnap` binary off the cooperative pool.
func cassnap(_ arguments: [String], coordinator: String, token: String? = adminToken) async throws
    -> Subprocess.Result
{
    let executable = try TestBinaries.url(for: "cassnap")
    var environment = ProcessInfo.processInfo.environment
    environment["CASSNAP_COORDINATOR"] = coordinator
    environment["CASSNAP_TOKEN"] = token
    if token == nil { environment.removeValue(forKey: "CASSNAP_TOKEN") }
    let finalEnvironment = environment
    return try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(
                with: Result { try Subprocess.run(executable, arguments, environment: finalEnvironment) })
        }
    }
}

@Suite("The coordinator and CLI as processes", .serialized)
struct CoordinatorProcessTests {
    @Test func aCoordinatorKilledMidSnapshotCompletesItAfterRestart() async throws {
        try await TemporaryDirectory.with { dir in
            let coordinator = try CoordinatorProcess(directory: dir)
            try await coordinator.start()
            let store = try FileSystemObjectStore(root: dir.appendingPathComponent("bucket").path)
            let nodes = try (1...2).map {
                try SimulatedNode(index: $0, baseURL: coordinator.baseURL, store: store)
            }
            for node in nodes { try await node.join() }
            let created = try await coordinator.admin.createSnapshot(.init(delaySeconds: 1, tag: "survivor"))

            // node1 reports before the crash; node2 has its manifest in the bucket but has not reported.
            let firstCommand = try await nodes[0].nextCommand()
            let firstManifest = try await nodes[0].uploadSnapshot(firstCommand)
            let firstReport = AgentAPI.Batch(
                reportID: "n1-manifest",
                items: [try await nodes[0].writeManifest(firstManifest, for: firstCommand)])
            _ = try await nodes[0].client.reportManifests(nodes[0].host, firstReport)
            let command = try await nodes[1].nextCommand()
            let manifest = try await nodes[1].uploadSnapshot(command)
            let secondReport = try await nodes[1].writeManifest(manifest, for: command)

            coordinator.kill9()
            await #expect(throws: CoordinatorClientError.self) {
                _ = try await nodes[1].client.reportManifests(
                    nodes[1].host, AgentAPI.Batch(reportID: "n2-manifest", items: [secondReport]))
            }
            try await coordinator.start()

            // The command is still due after the restart, and the reports go through now.
            #expect(try await nodes[1].client.commands(nodes[1].host, wait: 0).map(\.id).count == 1)
            let resent = try await nodes[0].client.reportManifests(nodes[0].host, firstReport)
            #expect(resent.duplicate)
            let delivered = try await nodes[1].client.reportManifests(
                nodes[1].host, AgentAPI.Batch(reportID: "n2-manifest", items: [secondReport]))
            #expect(!delivered.duplicate && delivered.accepted == 1)

            let detail = try await coordinator.admin.snapshot(created.summary.id.description)
            #expect(detail.summary.status == .complete)
            #expect(detail.summary.completedNodes == 2)
            let keys = ObjectKeys(cluster: try ClusterName(clusterName))
            try await eventually("the complete record in the bucket") {
                try await readRecord(store, keys.key(for: .clusterSnapshotRecord(tag: created.summary.tag)))?
                    .status
                    == .complete
            }
            coordinator.stop()
        }
    }

    @Test func theCLIAgainstARunningCoordinator() async throws {
        try await TemporaryDirectory.with { dir in
            let coordinator = try CoordinatorProcess(directory: dir)
            try await coordinator.start()
            let url = coordinator.baseURL
            let store = try FileSystemObjectStore(root: dir.appendingPathComponent("bucket").path)
            let nodes = try (1...2).map { try SimulatedNode(index: $0, baseURL: url, store: store) }
            for node in nodes { try await node.join() }

            let listed = try await cassnap(["nodes"], coordinator: url)
            #expect(listed.exitCode == 0)
            #expect(listed.standardOutput.contains("node1") && listed.standardOutput.contains("node2"))
            let nodesJSON = try await cassnap(["nodes", "--json"], coordinator: url)
            let decoded = try APICoding.decoder().decode(
                [AdminAPI.Node].self, from: Data(nodesJSON.standardOutput.utf8))
            #expect(decoded.count == 2)

            // create → nodes snapshot → show, list, sstables.
            let created = try await cassnap(
                ["snapshot", "create", "--in", "1s", "--tag", "cli-1"], coordinator: url)
            #expect(created.exitCode == 0, "\(created.standardError)")
            #expect(created.standardOutput.contains("cli-1") && created.standardOutput.contains("pending"))
            for node in nodes { try await node.takeSnapshot() }
            let shown = try await cassnap(["snapshot", "show", "cli-1"], coordinator: url)
            #expect(shown.exitCode == 0)
            #expect(shown.standardOutput.contains("complete") && shown.standardOutput.contains("spread"))
            let list = try await cassnap(["snapshot", "list"], coordinator: url)
            #expect(list.standardOutput.contains("cli-1") && list.standardOutput.contains("2/2"))
            let sstables = try await cassnap(
                ["snapshot", "sstables", "cli-1", "--node", "node1", "--table", "shop.orders", "--json"],
                coordinator: url)
            #expect(sstables.exitCode == 0, "\(sstables.standardError)")
            let parsed = try APICoding.decoder().decode(
                [AdminAPI.SnapshotSSTable].self, from: Data(sstables.standardOutput.utf8))
            #expect(parsed.count == 2 && parsed.allSatisfy { $0.hostname == "node1" && $0.table == "orders" })
            let table = try await cassnap(["snapshot", "sstables", "cli-1"], coordinator: url)
            #expect(table.standardOutput.contains("Data.db") && table.standardOutput.contains("8 SSTables"))

            // Page by page (3 pages of 3, 3, 2 SSTables): --json is the very same text, the table
            // the same rows, --ndjson one SSTable per line.
            let json = try await cassnap(["snapshot", "sstables", "cli-1", "--json"], coordinator: url)
            let pagedJSON = try await cassnap(
                ["snapshot", "sstables", "cli-1", "--json", "--page-size", "3"], coordinator: url)
            #expect(pagedJSON.exitCode == 0 && pagedJSON.standardOutput == json.standardOutput)
            let all = try APICoding.decoder().decode(
                [AdminAPI.SnapshotSSTable].self, from: Data(json.standardOutput.utf8))
            #expect(all.count == 8)
            let pagedTable = try await cassnap(
                ["snapshot", "sstables", "cli-1", "--page-size", "3"], coordinator: url)
            func cells(_ text: String) -> [[Substring]] {
                text.split(separator: "\n").map { $0.split(separator: " ") }
            }
            #expect(cells(pagedTable.standardOutput) == cells(table.standardOutput))
            let ndjson = try await cassnap(
                ["snapshot", "sstables", "cli-1", "--ndjson", "--page-size", "5"], coordinator: url)
            let lines = ndjson.standardOutput.split(separator: "\n")
            #expect(
                try lines.map {
                    try APICoding.decoder().decode(AdminAPI.SnapshotSSTable.self, from: Data($0.utf8))
                }
                    == all)
            let badPageSize = try await cassnap(
                ["snapshot", "sstables", "cli-1", "--page-size", "0"], coordinator: url)
            #expect(
                badPageSize.exitCode == ExitStatus.usage && badPageSize.standardError.contains("--page-size"))

            // --wait with live progress: node1 answers, node2 does not → partial, exit 4.
            let waiting = Task {
                try await cassnap(
                    ["snapshot", "create", "--in", "1s", "--tag", "cli-2", "--deadline", "3", "--wait"],
                    coordinator: url)
            }
            try await nodes[0].takeSnapshot()
            let waited = try await waiting.value
            #expect(waited.exitCode == ExitStatus.partial, "\(waited.standardOutput) \(waited.standardError)")
            #expect(waited.standardOutput.contains("node1: complete"))
            #expect(waited.standardOutput.contains("node2: failed"))

            // Errors name the id, the flag and the value, with the documented exit codes.
            let unknown = try await cassnap(["snapshot", "show", "no-such"], coordinator: url)
            #expect(unknown.exitCode == ExitStatus.notFound)
            #expect(unknown.standardError.contains("no-such"))
            let badTime = try await cassnap(["snapshot", "create", "--at", "yesterday"], coordinator: url)
            #expect(badTime.exitCode == ExitStatus.usage)
            #expect(badTime.standardError.contains("--at") && badTime.standardError.contains("yesterday"))
            let badDelay = try await cassnap(["snapshot", "create", "--in", "soon"], coordinator: url)
            #expect(badDelay.exitCode == ExitStatus.usage && badDelay.standardError.contains("--in"))
            let past = try await cassnap(
                ["snapshot", "create", "--at", "2001-01-01T00:00:00Z"], coordinator: url)
            #expect(past.exitCode == ExitStatus.usage && past.standardError.contains("past"))
            let noToken = try await cassnap(["snapshot", "list"], coordinator: url, token: nil)
            #expect(noToken.exitCode == ExitStatus.unauthorized)
            let wrongToken = try await cassnap(["snapshot", "list"], coordinator: url, token: agentToken)
            #expect(wrongToken.exitCode == ExitStatus.unauthorized)
            let down = try await cassnap(
                ["snapshot", "list"], coordinator: "http://127.0.0.1:\(try freePort())")
            #expect(down.exitCode == ExitStatus.unavailable)

            let live = try await cassnap(
                ["sstables", "--node", "node1", "--at", "2030-01-01T00:00:00Z"], coordinator: url)
            #expect(live.exitCode == 0)

            let rebuilt = try await cassnap(["catalog", "rebuild"], coordinator: url)
            #expect(rebuilt.exitCode == 0 && rebuilt.standardOutput.contains("rebuilt 2 snapshots"))
            let deleted = try await cassnap(["snapshot", "delete", "cli-1"], coordinator: url)
            #expect(deleted.exitCode == 0)
            #expect(
                try await cassnap(["snapshot", "show", "cli-1"], coordinator: url).exitCode
                    == ExitStatus.notFound)
            coordinator.stop()
        }
    }
}

/// No store configured, BUCKET_NAME set, on EC2 (its metadata server as a local stand-in):
/// the coordinator uses s3://BUCKET_NAME, as the agent does.
@Suite struct CoordinatorCloudStoreTests {
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func withoutAStoreBucketNameOnEC2NamesTheBucket() async throws {
        try await TemporaryDirectory.with { dir in
            let endpoint = try TestServers.requireS3()
            let bucket = "coordinator-cloud-\(UInt32.random(in: 0...UInt32.max))"
            let created = try Subprocess.run(
                URL(fileURLWithPath: "/usr/bin/curl"), ["-sf", "-X", "PUT", "\(endpoint)/\(bucket)"])
            #expect(created.exitCode == 0, "\(created.standardError)")
            let imds = try StubHTTPServer.fakeIMDS(region: "us-east-1")
            defer { imds.stop() }
            var environment = ProcessInfo.processInfo.environment
            environment.merge([
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "GCE_METADATA_HOST": "127.0.0.1:1",
                "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "BUCKET_NAME": bucket, "CASSNAP_AGENT_TOKEN": "cloud-agent-token-0123",
                "CASSNAP_ADMIN_TOKEN": "cloud-admin-token-0123",
            ]) { $1 }
            environment["AWS_EC2_METADATA_DISABLED"] = nil
            let binary = try TestBinaries.url(for: "cassnap-coordinator")
            let arguments = [
                "rebuild", "--db", dir.appendingPathComponent("catalog.sqlite").path, "--cluster", "c1",
            ]
            let rebuilt = try Subprocess.run(binary, arguments, environment: environment)
            #expect(rebuilt.exitCode == 0, "\(rebuilt.standardOutput)\(rebuilt.standardError)")
            #expect(rebuilt.standardOutput.contains("rebuilt 0 snapshots"), "\(rebuilt.standardOutput)")
            #expect(imds.requests.map(\.method).starts(with: ["PUT", "GET"]), "asked EC2's metadata server")

            // A bucket that does not exist is reached, and refused, by name: the store is s3://BUCKET_NAME.
            environment["BUCKET_NAME"] = bucket + "-missing"
            let missing = try Subprocess.run(binary, arguments, environment: environment)
            #expect(missing.exitCode != 0)
            #expect(missing.standardError.contains(bucket + "-missing"), "\(missing.standardError)")

            environment["BUCKET_NAME"] = nil
            let none = try Subprocess.run(binary, arguments, environment: environment)
            #expect(none.exitCode == ExitStatus.configuration, "\(none.standardError)")
            #expect(none.standardError.contains("BUCKET_NAME"), "\(none.standardError)")
        }
    }
}
