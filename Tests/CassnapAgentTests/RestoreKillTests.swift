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

/// `cassnap restore` (the real executable) killed with SIGKILL while files are arriving, then
/// rerun: it completes, every file is byte-identical to the snapshot, exactly the files that
/// were complete before the kill are skipped, and no staging file is left behind.
@Suite struct RestoreKillTests {
    typealias RoundTrip = RestoreRoundTripTests
    typealias S = AgentTestSupport

    static let staging = ".cassnap-restore"
    static let stores: [RestoreRoundTripTests.StoreKind] = [.s3Moto, .filesystem].filter { $0.available }

    @Test(arguments: RestoreKillTests.stores)
    func aRestoreKilledAndRerunCompletesWithoutDownloadingWhatWasInPlace(store: RoundTrip.StoreKind)
        async throws
    {
        try await TemporaryDirectory.with { root in
            let bucket = try store.makeBucket(root)
            // 4 Data.db of 72 MiB (ranged: 4½ parts each) among 200 small files.
            let node = try RoundTrip.node(root, bucket: bucket) {
                $0.tablesPerKeyspace = 5
                $0.sstablesPerTable = 5
                $0.largeSSTables = 4
                $0.largeDataSize = 72 << 20
            }
            let tag = "rt-kill"
            let (manifest, keys) = try await RoundTrip.withAgent(node) { agent, snapshot in
                let (command, manifest) = try await snapshot(tag)
                // A coordinator would write the cluster snapshot record; restore starts from it.
                let record = ClusterSnapshotRecord(
                    id: command.snapshotID, cluster: agent.keys.cluster, tag: command.tag,
                    requestedAt: command.at, deadline: command.deadline, status: .complete,
                    nodes: [
                        .init(
                            hostID: agent.host, hostname: manifest.node.hostname, status: .complete,
                            takenAt: manifest.takenAt,
                            manifestKey: agent.keys.key(
                                for: .nodeManifest(host: agent.host, tag: command.tag)))
                    ])
                _ = try await agent.store.put(
                    key: agent.keys.key(for: .clusterSnapshotRecord(tag: command.tag)),
                    source: .bytes(Array(record.encoded())))
                return (manifest, agent.keys)
            }
            let plan = try RestorePlan(manifest: manifest, keys: keys)
            #expect(plan.entries.count > 200)
            #expect(plan.entries.filter { $0.file.size >= 64 << 20 }.count == 4)
            let expected = try RoundTrip.expectedTree(node, tag: tag, manifest: manifest)

            let target = root.appendingPathComponent("restore").path
            let arguments = [
                "restore", tag, "--node", node.host, "--to", target, "--store", bucket.url, "--cluster",
                S.cluster, "--concurrency", "4",
            ]
            let environment = ProcessInfo.processInfo.environment.merging(bucket.environment) { $1 }
            let first = Process()
            first.executableURL = try TestBinaries.url(for: "cassnap")
            first.arguments = arguments
            first.environment = environment
            first.standardOutput = FileHandle.nullDevice
            first.standardError = FileHandle.nullDevice
            try first.run()

            // Kill once some files have their final names: at most 6000 polls or 120 s.
            let deadline = Date().addingTimeInterval(120)
            var polls = 0
            while first.isRunning && Date() < deadline && polls < 6000 {
                if Self.finalNames(under: target).count >= 20 { break }
                polls += 1
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(first.isRunning, "the first restore ended before it could be killed")
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()
            #expect(first.terminationReason == .uncaughtSignal)

            let complete = try plan.entries.filter { try Self.isComplete($0, under: target) }.count
            #expect(complete >= 20)
            #expect(complete < plan.entries.count, "everything was in place before the kill")

            let second = try Subprocess.run(
                TestBinaries.url(for: "cassnap"), arguments + ["--json"], environment: environment)
            #expect(second.exitCode == 0, "\(second.standardOutput) \(second.standardError)")
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(second.standardOutput.utf8)) as? [String: Any],
                "\(second.standardOutput)")
            #expect(report["skippedFiles"] as? Int == complete, "\(second.standardOutput.prefix(400))")
            #expect(report["downloadedFiles"] as? Int == plan.entries.count - complete)
            #expect((report["failures"] as? [Any])?.isEmpty == true)

            let restored = try ClusterEndToEndTests.Cluster.tree(target)
            #expect(
                restored == expected,
                "only restored: \(restored.subtracting(expected).sorted().prefix(3)); missing: \(expected.subtracting(restored).sorted().prefix(3))"
            )
            let left = Self.allNames(under: target).filter { $0.hasSuffix(Self.staging) }
            #expect(left.isEmpty, "staging files left: \(left.prefix(3))")
        }
    }

    /// Every regular file below `root`, relative, hidden ones included.
    static func allNames(under root: String) -> [String] {
        (try? FileManager.default.subpathsOfDirectory(atPath: root))?.filter {
            var st = stat()
            return lstat(root + "/" + $0, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        } ?? []
    }

    /// Files that have their final name (not a staging name).
    static func finalNames(under root: String) -> [String] {
        allNames(under: root).filter { !$0.hasSuffix(staging) }
    }

    /// The file is in place with the manifest's size and SHA-256.
    static func isComplete(_ entry: RestorePlan.Entry, under root: String) throws -> Bool {
        let path = root + "/" + entry.path
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int64(st.st_size) == entry.file.size
        else { return false }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return try Digest.hashFile(.sha256, fd: fd).hexString == entry.file.sha256.hex
    }
}
