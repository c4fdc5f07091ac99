import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import CassnapS3
import CassnapTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The whole system with real processes: a coordinator, three agents (each on its own
/// generated data directory driven by the fake nodetool) and the real S3 server.
@Suite(.serialized) struct ClusterEndToEndTests {
    static let adminToken = "e2e-admin-token-0123"
    static let agentToken = "e2e-agent-token-0123"

    /// One running cluster: processes are stopped by `stop()`, files removed with the directory.
    final class Cluster: @unchecked Sendable {
        let dir: URL
        let port: Int
        let bucket: String
        let store: S3ObjectStore
        let endpoint: String
        var coordinator: Process?
        var agents: [Int: Process] = [:]
        var nodes: [CassandraNodeFixture] = []
        /// Where agents reach S3, when not `endpoint` (a fault proxy in front of it).
        var agentEndpoint: String?
        /// When set, the coordinator and its own S3 server run in the hub namespace, agent n in
        /// node n's namespace, and the CLI in the hub (`ClusterEndToEndTests+Partition`).
        let network: NetworkNamespaces?
        var s3Server: Process?

        init(
            dir: URL, network: NetworkNamespaces? = nil,
            configure: (Int, inout CassandraDataBuilder.Configuration) -> Void = { _, _ in }
        ) async throws {
            self.dir = dir
            self.network = network
            bucket = "cassnap-e2e-\(UInt32.random(in: 0...UInt32.max))"
            if let network {
                port = 7100
                endpoint = "http://127.0.0.1:5000"
                store = try Self.s3Store(bucket: bucket, endpoint: endpoint)
                try startS3Server(in: network)
            } else {
                endpoint = try TestServers.requireS3()
                port = try Self.freePort()
                store = try Self.s3Store(bucket: bucket, endpoint: endpoint)
                try await store.createBucket()
            }
            let yaml = """
                listen: \(network == nil ? "127.0.0.1" : "0.0.0.0"):\(port)
                allow_plain_http: \(network != nil)
                database: \(dir.path)/catalog.sqlite
                store: s3://\(bucket)/backups
                cluster: e2e
                snapshots:
                  deadline_seconds: 20
                  live_node_seconds: 60
                  clear_after_upload: false
                """
            try yaml.write(
                to: dir.appendingPathComponent("coordinator.yaml"), atomically: true, encoding: .utf8)
            for n in 1...3 {
                var configuration = CassandraDataBuilder.Configuration()
                configuration.keyspaces = 2
                configuration.tablesPerKeyspace = 2
                configuration.sstablesPerTable = 3
                configuration.seed = UInt64(n)
                configuration.hostID = UUID()
                configure(n, &configuration)
                let node = try CassandraDataBuilder(
                    root: dir.appendingPathComponent("node\(n)"), configuration: configuration
                ).build()
                let wrapper = node.root.appendingPathComponent("nodetool").path
                try """
                #!/bin/sh
                FAKE_NODETOOL_DATA_DIR=\(node.dataDirectories[0].path) exec \(try TestBinaries.url(for: "fake-nodetool").path) "$@"

                """.write(toFile: wrapper, atomically: true, encoding: .utf8)
                chmod(wrapper, 0o755)
                nodes.append(node)
            }
        }

        static func s3Store(bucket: String, endpoint: String) throws -> S3ObjectStore {
            try S3ObjectStore(
                configuration: S3ObjectStore.Configuration(
                    bucket: bucket, prefix: "backups", endpoint: endpoint,
                    credentials: StaticCredentialsProvider(accessKeyId: "testing", secretAccessKey: "testing")
                ))
        }

        /// moto_server in the hub on port 5000, and the bucket made through it from inside the hub.
        private func startS3Server(in network: NetworkNamespaces) throws {
            let moto = try TestServers.requireMotoServer()
            s3Server = try launch(
                moto, ["-H", "0.0.0.0", "-p", "5000"], log: "moto.log", namespace: network.hub)
            let create = """
                import sys, time, urllib.request
                for _ in range(100):
                    try:
                        urllib.request.urlopen(urllib.request.Request("\(endpoint)/\(bucket)", method="PUT"), timeout=2)
                        sys.exit(0)
                    except Exception as e:
                        error = e
                        time.sleep(0.2)
                sys.exit("moto_server in the hub namespace did not answer: %s" % error)
                """
            let python = URL(fileURLWithPath: moto).deletingLastPathComponent().appendingPathComponent(
                "python"
            ).path
            try network.exec(network.hub, [python, "-c", create])
        }

        var baseURL: String { "http://127.0.0.1:\(port)" }

        /// Where agent n reaches the coordinator.
        func coordinatorURL(forAgent n: Int) -> String {
            network.map { "http://\($0.hubAddress(n)):\(port)" } ?? baseURL
        }

        var environment: [String: String] {
            ProcessInfo.processInfo.environment.merging([
                "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-east-1", "CASSNAP_AGENT_TOKEN": ClusterEndToEndTests.agentToken,
                "CASSNAP_ADMIN_TOKEN": ClusterEndToEndTests.adminToken, "CASSNAP_COORDINATOR": baseURL,
                "CASSNAP_TOKEN": ClusterEndToEndTests.adminToken,
            ]) { $1 }
        }

        func startCoordinator() throws {
            coordinator = try launch(
                "cassnap-coordinator",
                ["run", "--config", dir.appendingPathComponent("coordinator.yaml").path],
                log: "coordinator.log")
        }

        /// The agents take their token from CASSNAP_AGENT_TOKEN in `environment`, as an operator's
        /// agent.env gives it, not from a flag that `ps` shows.
        func startAgent(_ n: Int, extra: [String] = []) throws {
            let node = nodes[n - 1]
            agents[n] = try launch(
                "cassnap-agent",
                [
                    "run", "--data-dir", node.dataDirectories[0].path, "--store", "s3://\(bucket)/backups",
                    "--state-dir", node.root.appendingPathComponent("agent-state").path, "--coordinator",
                    coordinatorURL(forAgent: n), "--nodetool",
                    node.root.appendingPathComponent("nodetool").path, "--cluster",
                    "e2e",
                ] + extra, log: "agent\(n).log", namespace: network?.node(n),
                s3Endpoint: network.map { "http://\($0.hubAddress(n)):5000" } ?? agentEndpoint)
        }

        func launch(
            _ name: String, _ arguments: [String], log: String, namespace: String? = nil,
            s3Endpoint: String? = nil
        ) throws -> Process {
            let process = Process()
            let executable =
                name.hasPrefix("/") ? URL(fileURLWithPath: name) : try TestBinaries.url(for: name)
            if let network, let namespace = namespace ?? (name == "cassnap-coordinator" ? network.hub : nil) {
                (process.executableURL, process.arguments) = network.wrap(
                    namespace, [executable.path] + arguments)
            } else {
                process.executableURL = executable
                process.arguments = arguments
            }
            var environment = environment
            if let s3Endpoint { environment["AWS_ENDPOINT_URL"] = s3Endpoint }
            process.environment = environment
            let path = dir.appendingPathComponent(log).path
            FileManager.default.createFile(atPath: path, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            return process
        }

        func kill9(_ process: Process?) {
            guard let process, process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        /// A coordinator and three agents as real processes on a fresh directory, all
        /// registered; stopped when `body` returns or throws.
        static func withThreeNodes(
            configure: (Int, inout CassandraDataBuilder.Configuration) -> Void = { _, _ in },
            _ body: (Cluster) async throws -> Void
        ) async throws {
            try await TemporaryDirectory.with { dir in
                let cluster = try await Cluster(dir: dir, configure: configure)
                defer { cluster.stop() }
                try cluster.startCoordinator()
                for n in 1...3 { try cluster.startAgent(n) }
                try await cluster.waitForNodes(3)
                try await body(cluster)
            }
        }

        func stop() {
            // The S3 server inherits this test process's blocked signal mask (SIGTERM included)
            // and would never exit on terminate(); it keeps nothing worth a clean stop.
            if let s3Server, s3Server.isRunning { kill(s3Server.processIdentifier, SIGKILL) }
            let processes = [coordinator, s3Server].compactMap({ $0 }) + Array(agents.values)
            for process in processes where process.isRunning { process.terminate() }
            for process in processes { process.waitUntilExit() }
        }

        func cli(_ arguments: [String]) throws -> Subprocess.Result {
            let cassnap = try TestBinaries.url(for: "cassnap")
            guard let network else { return try Subprocess.run(cassnap, arguments, environment: environment) }
            let (ip, wrapped) = network.wrap(network.hub, [cassnap.path] + arguments)
            return try Subprocess.run(ip, wrapped, environment: environment)
        }

        /// Waits (bounded) until `count` agents are registered with a heartbeat.
        func waitForNodes(_ count: Int) async throws {
            for _ in 0..<120 {
                let result = try cli(["nodes", "--json"])
                if result.exitCode == 0,
                    let nodes = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
                        as? [[String: Any]],
                    nodes.filter({ $0["lastHeartbeat"] != nil }).count >= count
                {
                    return
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            Issue.record("agents did not register; logs in \(dir.path)")
        }

        /// SSTable component files in every node's `snapshots/<tag>/`, as (host, file name, size, sha256).
        func snapshotFilesOnDisk(tag: String, nodes indices: [Int]) throws -> Set<String> {
            var result = Set<String>()
            for n in indices {
                let node = nodes[n - 1]
                let host = node.hostID!.uuidString.lowercased()
                let root = node.dataDirectories[0].path
                let walker = FileManager.default.enumerator(atPath: root)
                while let relative = walker?.nextObject() as? String {
                    guard relative.contains("/snapshots/\(tag)/") else { continue }
                    let name = (relative as NSString).lastPathComponent
                    guard name != "manifest.json", name != "schema.cql" else { continue }
                    let path = root + "/" + relative
                    var st = stat()
                    guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                    let fd = open(path, O_RDONLY)
                    defer { close(fd) }
                    let sha = try Digest.hashFile(.sha256, fd: fd).hexString
                    result.insert("\(host) \(name) \(st.st_size) \(sha)")
                }
            }
            return result
        }

        /// What `cassnap snapshot sstables --json` lists, in the same form, plus the object keys.
        func listedFiles(tag: String) throws -> (
            files: Set<String>, objects: [(key: String, size: Int64, sha: String)]
        ) {
            let result = try cli(["snapshot", "sstables", tag, "--json"])
            #expect(result.exitCode == 0, "\(result.standardError)")
            let rows = try #require(
                try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]])
            var files = Set<String>()
            var objects: [(String, Int64, String)] = []
            for row in rows {
                let host = try #require(row["hostID"] as? String)
                for component in try #require(row["components"] as? [[String: Any]]) {
                    let name = try #require(component["fileName"] as? String)
                    let size = try #require(component["size"] as? Int)
                    let sha = try #require(component["sha256"] as? String)
                    files.insert("\(host) \(name) \(size) \(sha)")
                    objects.append((try #require(component["objectKey"] as? String), Int64(size), sha))
                }
            }
            return (files, objects)
        }

        static func freePort() throws -> Int {
            let server = try StubHTTPServer { _ in .init() }
            defer { server.stop() }
            return Int(server.port)
        }
    }

    func status(_ cluster: Cluster, _ tag: String) throws -> [String: Any] {
        let result = try cluster.cli(["snapshot", "show", tag, "--json"])
        return (try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
            ?? [:]
    }

    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func aClusterSnapshotListsExactlyTheSnapshotFilesAndTheBucketHoldsThem() async throws {
        try await Cluster.withThreeNodes { cluster in

            let create = try cluster.cli(["snapshot", "create", "--in", "3s", "--tag", "e2e-1", "--wait"])
            #expect(create.exitCode == 0, "create --wait: \(create.standardOutput) \(create.standardError)")

            let onDisk = try cluster.snapshotFilesOnDisk(tag: "e2e-1", nodes: [1, 2, 3])
            let listed = try cluster.listedFiles(tag: "e2e-1")
            #expect(!onDisk.isEmpty)
            #expect(listed.files == onDisk, "listed and on-disk snapshot files differ")
            for object in listed.objects {
                // Object keys are relative to the store URL the agents and coordinator share.
                let head = try await cluster.store.head(key: object.key)
                #expect(head.size == object.size, "\(object.key)")
                #expect(head.sha256 == object.sha, "\(object.key)")
            }
        }
    }

    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func aNodeDownMakesThePartialSetNameItAndLaterSnapshotsComplete() async throws {
        try await Cluster.withThreeNodes { cluster in

            cluster.kill9(cluster.agents[3])
            let create = try cluster.cli(["snapshot", "create", "--in", "2s", "--tag", "e2e-down", "--wait"])
            #expect(
                create.exitCode == 4, "partial expected: \(create.standardOutput) \(create.standardError)")
            let show = try status(cluster, "e2e-down")
            let down = cluster.nodes[2].hostID!.uuidString.lowercased()
            let nodes = (show["nodes"] as? [[String: Any]]) ?? []
            let failed = nodes.filter { ($0["status"] as? String) != "complete" }.compactMap {
                $0["hostID"] as? String
            }
            #expect(failed == [down], "the partial set must name the node that was down")

            try cluster.startAgent(3)
            let again = try cluster.cli(["snapshot", "create", "--in", "3s", "--tag", "e2e-back", "--wait"])
            #expect(again.exitCode == 0, "\(again.standardOutput) \(again.standardError)")
            #expect(
                try cluster.listedFiles(tag: "e2e-back").files
                    == cluster.snapshotFilesOnDisk(tag: "e2e-back", nodes: [1, 2, 3]))
        }
    }

    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func aCoordinatorKilledDuringASnapshotCompletesItAfterRestart() async throws {
        try await Cluster.withThreeNodes { cluster in

            let create = try cluster.cli(["snapshot", "create", "--in", "3s", "--tag", "e2e-kill"])
            #expect(create.exitCode == 0, "\(create.standardError)")
            try await Task.sleep(for: .milliseconds(1500))  // agents have the command; the instant is ahead
            cluster.kill9(cluster.coordinator)
            try await Task.sleep(for: .seconds(4))  // the instant passes; reports wait in the outboxes
            try cluster.startCoordinator()

            var final = ""
            for _ in 0..<60 {
                final =
                    (try status(cluster, "e2e-kill")["summary"] as? [String: Any])?["status"] as? String ?? ""
                if final == "complete" || final == "partial" || final == "failed" { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(final == "complete", "logs in \(cluster.dir.path)")
            #expect(
                try cluster.listedFiles(tag: "e2e-kill").files
                    == cluster.snapshotFilesOnDisk(tag: "e2e-kill", nodes: [1, 2, 3]))
        }
    }

    /// The restore half (issue 10), from the bucket alone: every file of every node's
    /// `snapshots/<tag>/` comes back byte for byte, a rerun downloads nothing, and a replaced
    /// object is named by `verify --deep` and refused by `restore`, which still restores the rest.
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func aSnapshotRestoresByteForByteFromTheBucketAlone() async throws {
        try await Cluster.withThreeNodes { cluster in
            let create = try cluster.cli([
                "snapshot", "create", "--in", "3s", "--tag", "e2e-restore", "--wait",
            ])
            #expect(create.exitCode == 0, "\(create.standardOutput) \(create.standardError)")
            // Through the coordinator: it names the store.
            let viaCoordinator = cluster.dir.appendingPathComponent("restore-a").path
            let first = try cluster.cli(["restore", "e2e-restore", "--all", "--to", viaCoordinator])
            #expect(first.exitCode == 0, "\(first.standardOutput) \(first.standardError)")
            #expect(first.standardOutput.contains("initial_token: "), "\(first.standardOutput)")
            let expected = try cluster.snapshotTrees(tag: "e2e-restore")
            #expect(!expected.isEmpty)
            #expect(
                try Cluster.restoredTables(viaCoordinator) == expected,
                "restored tree differs from the snapshots")

            // Without a coordinator at all.
            cluster.kill9(cluster.coordinator)
            let bucketOnly = ["--store", "s3://\(cluster.bucket)/backups", "--cluster", "e2e"]
            let direct = cluster.dir.appendingPathComponent("restore-b").path
            let second = try cluster.cli(["restore", "e2e-restore", "--all", "--to", direct] + bucketOnly)
            #expect(second.exitCode == 0, "\(second.standardError)")
            #expect(try Cluster.restoredTables(direct) == expected)
            let again = try cluster.cli(
                ["restore", "e2e-restore", "--all", "--to", direct, "--json"] + bucketOnly)
            let report =
                try JSONSerialization.jsonObject(with: Data(again.standardOutput.utf8)) as? [String: Any]
            #expect(
                report?["downloadedFiles"] as? Int == 0, "a rerun downloaded again: \(again.standardOutput)")
            #expect(report?["skippedFiles"] as? Int == (try Cluster.tree(direct)).count)
            #expect(try cluster.cli(["verify", "e2e-restore", "--deep"] + bucketOnly).exitCode == 0)

            // One object replaced by other bytes.
            let victim = try #require(
                try await cluster.store.list(prefix: "e2e/nodes/").first { $0.key.hasSuffix("-Data.db") })
            _ = try await cluster.store.put(key: victim.key, source: .string("not the SSTable"))
            let verify = try cluster.cli(["verify", "e2e-restore", "--deep"] + bucketOnly)
            #expect(verify.exitCode == 1)
            #expect(verify.standardOutput.contains(victim.key), "\(verify.standardOutput)")
            let shallow = try cluster.cli(["verify", "e2e-restore"] + bucketOnly)
            #expect(
                shallow.exitCode == 1, "a changed size must show without --deep: \(shallow.standardOutput)")
            let damaged = cluster.dir.appendingPathComponent("restore-c").path
            let refused = try cluster.cli(["restore", "e2e-restore", "--all", "--to", damaged] + bucketOnly)
            #expect(refused.exitCode == 1)
            #expect(refused.standardOutput.contains("FAILED"), "\(refused.standardOutput)")
            let restored = try Cluster.restoredTables(damaged)
            #expect(restored.count == expected.count - 1, "everything else is restored")
            #expect(restored.isSubset(of: expected))
        }
    }
}

extension ClusterEndToEndTests.Cluster {
    /// The tables part of a restored tree: without the node-level `<host>/schema.cql` and
    /// `<host>/tokens.json`, which are not files of the snapshot directories.
    static func restoredTables(_ root: String) throws -> Set<String> {
        try tree(root).filter { $0.split(separator: " ")[0].split(separator: "/").count > 2 }
    }

    /// Every regular file under `root`, as "relative-path size sha256".
    static func tree(_ root: String) throws -> Set<String> {
        var result = Set<String>()
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String {
            let path = root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            result.insert("\(relative) \(st.st_size) \(try Digest.hashFile(.sha256, fd: fd).hexString)")
        }
        return result
    }

    /// What a restore of `tag` must produce: `<host>/<ks>/<table-dir>/[.<index>/]<file>` for
    /// every file of each node's `snapshots/<tag>/`, beside which the node files are not on disk.
    func snapshotTrees(tag: String) throws -> Set<String> {
        var result = Set<String>()
        for node in nodes {
            let host = node.hostID!.uuidString.lowercased()
            for line in try Self.tree(node.dataDirectories[0].path) {
                let parts = line.split(separator: " ", maxSplits: 1)
                let segments = parts[0].split(separator: "/").map(String.init)
                // <ks>/<table-dir>/snapshots/<tag>/[.<index>/]<file>
                guard segments.count >= 5, segments[2] == "snapshots", segments[3] == tag else { continue }
                let rest = segments[4...].joined(separator: "/")
                result.insert("\(host)/\(segments[0])/\(segments[1])/\(rest) \(parts[1])")
            }
        }
        return result
    }
}
