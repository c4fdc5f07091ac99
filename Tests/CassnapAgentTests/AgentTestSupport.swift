import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import CassnapStoreFactory
import CassnapTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CassnapAgent

enum AgentTestSupport {
    static let hostID = "6d1c3b0e-8f5a-4c2d-9e7b-1a2b3c4d5e6f"
    static let cluster = "test-cluster"

    static var logger: Logger {
        var logger = Logger(label: "cassnap.agent.test")
        logger.logLevel = ProcessInfo.processInfo.environment["CASSNAP_TEST_LOG"] == "1" ? .debug : .critical
        return logger
    }

    static func configuration(node: CassandraNodeFixture, store: String, state: URL) -> AgentConfiguration {
        var c = AgentConfiguration()
        c.dataDirectories = node.dataDirectories.map(\.path)
        c.store = store
        c.stateDirectory = state.path
        c.cluster = cluster
        c.hostID = hostID
        c.reconcileInterval = Interval(seconds: 600)
        return c
    }

    /// An agent of no Cassandra node: a data directory, a file store and state under `root`.
    static func configuration(root: URL) -> AgentConfiguration {
        var c = AgentConfiguration()
        c.dataDirectories = [root.appendingPathComponent("data").path]
        c.store = "file://" + root.appendingPathComponent("bucket").path
        c.stateDirectory = root.appendingPathComponent("state").path
        c.hostID = hostID
        c.cluster = cluster
        return c
    }

    static var keys: ObjectKeys { ObjectKeys(cluster: try! ClusterName(cluster)) }
    static var host: HostID { try! HostID(hostID) }

    /// Every regular file below the data directories.
    static func filesOnDisk(_ roots: [String]) -> [String] {
        var result: [String] = []
        for root in roots {
            guard let enumerator = FileManager.default.enumerator(atPath: root) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let path = root + "/" + relative
                var st = stat()
                if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { result.append(path) }
            }
        }
        return result.sorted()
    }

    /// The key a shipped file must land under (primary key; collisions are checked separately).
    static func expectedKey(_ path: String, dataDirectories: [String]) -> String? {
        guard
            let dataPath = try? DataPath.classify(
                path: path, dataDirectories: dataDirectories, isDirectory: false),
            dataPath.isShipped, let table = dataPath.table
        else { return nil }
        if case .snapshotMetadata(let file) = dataPath.kind, let tag = dataPath.snapshotTag {
            return keys.key(for: .tableSnapshotFile(host: host, tag: tag, table: table, file: file))
        }
        guard let pooled = try? PooledFile(host: host, path: dataPath) else { return nil }
        return keys.primaryKey(for: pooled)
    }

    static func sha256(_ path: String) throws -> String { try Shipper.hashFile(path) }

    /// Files (snapshot links, backups links) that must be in the store, with their keys.
    static func expectedFiles(_ roots: [String], snapshots: Bool = true, backups: Bool = true) -> [String:
        String]
    {
        var expected: [String: String] = [:]
        for path in filesOnDisk(roots) {
            guard
                let dataPath = try? DataPath.classify(path: path, dataDirectories: roots, isDirectory: false)
            else { continue }
            switch dataPath.location {
            case .snapshot where snapshots, .backups where backups:
                if let key = expectedKey(path, dataDirectories: roots) { expected[path] = key }
            default: break
            }
        }
        return expected
    }

    /// Checks each file is stored under its key with its size and SHA-256; returns problems.
    static func verify(_ expected: [String: String], in store: any ObjectStore) async throws -> [String] {
        var problems: [String] = []
        for (path, key) in expected.sorted(by: { $0.key < $1.key }) {
            guard let info = try await store.headIfExists(key: key) else {
                problems.append("missing \(key) (from \(path))")
                continue
            }
            let size = FileIdentity.of(path: path)?.size
            if info.size != size { problems.append("size of \(key): \(info.size) != \(size ?? -1)") }
            let sha = try sha256(path)
            if info.sha256 != sha { problems.append("sha256 of \(key): \(info.sha256 ?? "nil") != \(sha)") }
            if problems.count > 20 { break }
        }
        return problems
    }

    /// Polls `condition` every 200 ms, at most `timeout` seconds.
    @discardableResult
    static func waitUntil(timeout: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var polls = 0
        while Date() < deadline && polls < Int(timeout * 5) + 1 {
            if try await condition() { return true }
            polls += 1
            try? await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }

    /// Waits (at most `timeout` s) until nothing is pending and at least `count` paths are
    /// uploaded; otherwise the failed expectation shows the status counts.
    static func expectShipped(
        _ count: Int, by state: AgentState, timeout: Double, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let done = try await waitUntil(timeout: timeout) {
            let counts = try await state.statusCounts()
            return counts[.pending, default: 0] == 0 && counts[.uploaded, default: 0] >= count
        }
        let counts = (try? await state.statusCounts()) ?? [:]
        #expect(done, "\(counts)", sourceLocation: sourceLocation)
    }

    /// Runs blocking work (fake nodetool) on a plain thread.
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    /// Runs the agent service in-process until `body` returns, then shuts it down gracefully.
    static func withRunningAgent<T>(
        _ agent: Agent, _ body: () async throws -> T
    ) async throws -> T {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [.init(service: agent)], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let result = try await body()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    /// A fresh bucket on the moto server, and the store URL and environment the agent needs.
    static func motoBucket(_ name: String) throws -> (url: String, environment: [String: String]) {
        let endpoint = try TestServers.requireS3()
        let bucket = "\(name)-\(UInt32.random(in: 0...UInt32.max))"
        let curl = URL(fileURLWithPath: "/usr/bin/curl")
        let result = try Subprocess.run(curl, ["-sf", "-X", "PUT", "\(endpoint)/\(bucket)"])
        if result.exitCode != 0 {
            throw TestFailure("cannot create bucket \(bucket): \(result.standardError)")
        }
        let environment = [
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": NSTemporaryDirectory(),
        ]
        return ("s3://\(bucket)/backups?endpoint=\(endpoint)&path-style=true", environment)
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
