import CassnapCore
import CassnapObjectStore
import CassnapS3
import CassnapStoreFactory
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// The real `cassnap-agent` executable: exit codes, and `kill -9` at awkward moments.
@Suite(.serialized) struct AgentProcessTests {
    typealias S = AgentTestSupport

    static func writeConfig(_ c: AgentConfiguration, to url: URL) throws {
        var yaml = "data_directories: [\(c.dataDirectories.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        yaml += "store: \"\(c.store!)\"\nstate_directory: \"\(c.stateDirectory)\"\ncluster: \(c.cluster!)\n"
        yaml += "host_id: \(c.hostID!)\nreconcile_interval: 10m\nlog_level: info\n"
        try yaml.write(to: url, atomically: true, encoding: .utf8)
    }

    static func launch(_ arguments: [String], environment: [String: String] = [:], log: URL) throws -> Process
    {
        let process = Process()
        process.executableURL = try TestBinaries.url(for: "cassnap-agent")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func waitForExit(_ process: Process, timeout: Double) async -> Bool {
        await S.waitUntil(timeout: timeout) { !process.isRunning }
    }

    /// No store configured, BUCKET_NAME set, and EC2's metadata server (a local stand-in)
    /// answering: the agent backs up to s3://BUCKET_NAME in the instance's region.
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func withoutAStoreBucketNameOnEC2NamesTheBucket() async throws {
        try await TemporaryDirectory.with { root in
            let node = try AgentStormTests.buildNode(root, keyspaces: 1, tables: 1, sstables: 2)
            try FakeNodetool(dataDirectories: node.dataDirectories).snapshot(tag: "cloud")
            let (storeURL, environment) = try S.motoBucket("agent-cloud")
            let bucket = try #require(URL(string: storeURL)?.host)
            let imds = try StubHTTPServer.fakeIMDS(region: "us-east-1")
            defer { imds.stop() }
            let binary = try TestBinaries.url(for: "cassnap-agent")
            let arguments = [
                "run", "--once", "--data-dir", node.dataDirectories[0].path, "--state-dir",
                root.appendingPathComponent("state").path, "--host-id", S.hostID, "--cluster", S.cluster,
            ]
            var cloud = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            cloud["AWS_EC2_METADATA_DISABLED"] = nil
            cloud["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url
            cloud["GCE_METADATA_HOST"] = "127.0.0.1:1"
            cloud["AWS_ENDPOINT_URL"] = try TestServers.requireS3()
            cloud["BUCKET_NAME"] = bucket
            let run = try Subprocess.run(binary, arguments, environment: cloud)
            #expect(run.exitCode == 0, "\(run.standardOutput)\(run.standardError)")
            #expect(imds.requests.map(\.method).starts(with: ["PUT", "GET"]), "asked EC2's metadata server")
            let store = try ObjectStoreFactory.open(
                url: "s3://\(bucket)?endpoint=\(try TestServers.requireS3())&path-style=true",
                environment: environment)
            let keys = try await store.list(prefix: "").map(\.key)
            #expect(keys.contains { $0.hasSuffix("manifest.json") }, "\(keys)")

            // Without BUCKET_NAME there is no default, and the error says what to set.
            cloud["BUCKET_NAME"] = nil
            let none = try Subprocess.run(binary, arguments, environment: cloud)
            #expect(none.exitCode == ExitStatus.configuration)
            #expect(none.standardError.contains("store") && none.standardError.contains("BUCKET_NAME"))
        }
    }

    @Test func runOnceExitCodes() async throws {
        try await TemporaryDirectory.with { root in
            let node = try AgentStormTests.buildNode(root, keyspaces: 1, tables: 2, sstables: 2)
            try FakeNodetool(dataDirectories: node.dataDirectories).snapshot(tag: "once")
            let storeURL = "file://" + root.appendingPathComponent("bucket").path
            let binary = try TestBinaries.url(for: "cassnap-agent")
            let base = [
                "run", "--once", "--data-dir", node.dataDirectories[0].path, "--store", storeURL,
                "--state-dir",
                root.appendingPathComponent("state").path, "--host-id", S.hostID, "--cluster", S.cluster,
            ]
            let ok = try Subprocess.run(binary, base)
            #expect(ok.exitCode == 0, "\(ok.standardOutput)\(ok.standardError)")
            #expect(ok.standardOutput.contains("uploaded 36 files"), "\(ok.standardOutput)")

            // An uncommitted live SSTable in tablesnap mode: not everything could ship.
            let directory = node.tables[0].directories[0]
            let prefix = directory.appendingPathComponent("nb-9-big-").path
            try "ADD:[\(prefix),0,8][1]\n".write(
                to: directory.appendingPathComponent("nb_txn_flush_1.log"), atomically: false, encoding: .utf8
            )
            try "x".write(toFile: prefix + "Data.db", atomically: false, encoding: .utf8)
            let incomplete = try Subprocess.run(binary, base + ["--watch", "snapshots,live"])
            #expect(incomplete.exitCode == ExitStatus.failure)
            #expect(incomplete.standardOutput.contains("incomplete: \(prefix)Data.db"))
            // Issue 11: the same SSTable with live not watched is not what was asked for.
            let snapshotsOnly = try Subprocess.run(binary, base + ["--watch", "snapshots,backups"])
            #expect(
                snapshotsOnly.exitCode == 0, "\(snapshotsOnly.standardOutput)\(snapshotsOnly.standardError)")
            #expect(
                snapshotsOnly.standardOutput.contains("0 live files incomplete"),
                "\(snapshotsOnly.standardOutput)")

            let badFlag = try Subprocess.run(binary, base + ["--bandwidth", "fast"])
            #expect(badFlag.exitCode == ExitStatus.configuration)
            #expect(badFlag.standardError.contains("--bandwidth"))
            let config = root.appendingPathComponent("bad.yaml")
            try "store: file:///tmp/x\nwatch:\n  snapshot: true\n".write(
                to: config, atomically: true, encoding: .utf8)
            let badFile = try Subprocess.run(binary, ["run", "--once", "--config", config.path])
            #expect(badFile.exitCode == ExitStatus.configuration)
            #expect(
                badFile.standardError.contains("\(config.path): watch.snapshot: unknown key"),
                "\(badFile.standardError)")
        }
    }

    @Test func killDuringAStormLosesAndDuplicatesNothing() async throws {
        try await TemporaryDirectory.with { root in
            let node = try AgentStormTests.buildNode(root, keyspaces: 2, tables: 25, sstables: 10)
            let storeURL = "file://" + root.appendingPathComponent("bucket").path
            let stateURL = root.appendingPathComponent("state")
            var c = S.configuration(node: node, store: storeURL, state: stateURL)
            c.upload.concurrency = 2
            let config = root.appendingPathComponent("agent.yaml")
            try Self.writeConfig(c, to: config)
            let log = root.appendingPathComponent("agent.log")
            let first = try Self.launch(["run", "--config", config.path], log: log)
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
            try await AgentStormTests.storm(node, tag: "storm", flushes: 5)
            let roots = node.dataDirectories.map(\.path)
            let expected = S.expectedFiles(roots)
            let state = try AgentState(directory: stateURL.path)
            let started = try await S.waitUntil(timeout: 120) {
                (try await state.statusCounts()[.uploaded] ?? 0) >= min(1000, expected.count / 4)
            }
            #expect(started)
            kill(first.processIdentifier, SIGKILL)
            #expect(await Self.waitForExit(first, timeout: 10))
            #expect(
                (try await state.statusCounts()[.uploaded] ?? 0) < expected.count, "killed too late to matter"
            )

            let second = try Self.launch(["run", "--config", config.path], log: log)
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
            try await S.expectShipped(expected.count, by: state, timeout: 300)
            kill(second.processIdentifier, SIGTERM)
            #expect(await Self.waitForExit(second, timeout: 30))
            #expect(second.terminationStatus == 0)
            try await AgentStormTests.checkStore(
                try ObjectStoreFactory.open(url: storeURL), roots: roots, expected: expected)
        }
    }

    @Test(.enabled(if: TestServers.s3Enabled)) func killDuringAMultipartUploadResumesIt() async throws {
        try await TemporaryDirectory.with { root in
            var builder = CassandraDataBuilder.Configuration()
            builder.keyspaces = 1
            builder.tablesPerKeyspace = 1
            builder.sstablesPerTable = 1
            builder.largeSSTables = 1
            builder.largeDataSize = 40 << 20
            builder.hostID = UUID(uuidString: S.hostID)
            let node = try CassandraDataBuilder(
                root: root.appendingPathComponent("node"), configuration: builder
            ).build()
            try FakeNodetool(dataDirectories: node.dataDirectories).snapshot(tag: "big")
            let (storeURL, environment) = try S.motoBucket("agent-multipart")
            let stateURL = root.appendingPathComponent("state")
            let config = root.appendingPathComponent("agent.yaml")
            try Self.writeConfig(S.configuration(node: node, store: storeURL, state: stateURL), to: config)
            let slow = [
                "run", "--config", config.path, "--bandwidth", "4MiB/s", "--part-size", "5MiB",
                "--multipart-threshold", "8MiB", "--concurrency", "1",
            ]
            let log = root.appendingPathComponent("agent.log")
            let first = try Self.launch(slow, environment: environment, log: log)
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
            let state = try AgentState(directory: stateURL.path)
            let sessionSaved = try await S.waitUntil(timeout: 60) { try await state.uploadSessionCount() > 0 }
            #expect(sessionSaved)
            let sessions = SQLiteUploadSessionStore(state: state)
            let (sessionKey, upload) = try #require(try await sessions.anySession())
            let s3 = try S3ObjectStore(
                configuration: S3ObjectStore.Configuration(
                    bucket: try #require(URL(string: storeURL)?.host), prefix: "backups",
                    endpoint: try TestServers.requireS3(),
                    credentials: StaticCredentialsProvider(accessKeyId: "testing", secretAccessKey: "testing")
                ))
            let bucketPrefix = "s3://\(s3.configuration.bucket)/\(s3.configuration.rootPrefix)"
            #expect(sessionKey.hasPrefix(bucketPrefix), "\(sessionKey)")
            let key = String(sessionKey.dropFirst(bucketPrefix.count))
            // Killed once the server holds some of the upload's parts (4 at a time share 4 MiB/s,
            // so the first land after about 5 s, with 4 of the 8 still to come).
            var partsAtKill = 0
            let partsLanded = try await S.waitUntil(timeout: 60) {
                partsAtKill = try await s3.listParts(key: key, uploadID: upload)?.count ?? 0
                return partsAtKill >= 1
            }
            kill(first.processIdentifier, SIGKILL)
            #expect(await Self.waitForExit(first, timeout: 10))
            #expect(partsLanded, "the first agent finished no part in 60 s")
            partsAtKill = try #require(try await s3.listParts(key: key, uploadID: upload)).count
            #expect(partsAtKill < 8, "the killed agent had uploaded every part")

            let second = try Self.launch(slow, environment: environment, log: log)
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
            // The restarted agent continues the killed agent's upload: that upload gains parts
            // while it is still the recorded session (a fresh upload would replace the record
            // and leave this one as it was).
            var partsSeen = partsAtKill
            let resumed = try await S.waitUntil(timeout: 60) {
                guard let parts = try await s3.listParts(key: key, uploadID: upload) else { return true }
                partsSeen = parts.count
                guard parts.count > partsAtKill else { return false }
                return try await sessions.anySession()?.session == upload
            }
            #expect(resumed && partsSeen > partsAtKill, "parts at kill \(partsAtKill), then \(partsSeen)")
            let roots = node.dataDirectories.map(\.path)
            let expected = S.expectedFiles(roots)
            try await S.expectShipped(expected.count, by: state, timeout: 120)
            kill(second.processIdentifier, SIGTERM)
            #expect(await Self.waitForExit(second, timeout: 30))
            #expect(try await state.uploadSessionCount() == 0)
            let store = try ObjectStoreFactory.open(url: storeURL, environment: environment)
            try await AgentStormTests.checkStore(store, roots: roots, expected: expected)
        }
    }
}
