import CassnapCore
import CassnapTestSupport
import Foundation
import Testing

/// `cassnap restore --node N --at T` (issue 10, beyond the peers): what was live on a node at
/// an instant comes back from the live-SSTable history, with no snapshot taken, even after
/// compaction removed those SSTables from the disk.
extension ClusterEndToEndTests {
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func aNodeRestoresAsItWasAtAnInstantAfterCompactionRemovedItsSSTables() async throws {
        try await TemporaryDirectory.with { dir in
            let cluster = try await Cluster(dir: dir)
            defer { cluster.stop() }
            let startedAt = Date()
            try cluster.startCoordinator()
            try cluster.startAgent(1, extra: ["--watch", "snapshots,backups,live"])
            try await cluster.waitForNodes(1)
            let node = cluster.nodes[0]
            let host = node.hostID!.uuidString.lowercased()

            // Before the agent watched: no history covers it.
            let early = try cluster.cli([
                "restore", "--node", host, "--at", InstantFormat.format(startedAt.addingTimeInterval(-3600)),
                "--to", dir.appendingPathComponent("early").path,
            ])
            #expect(early.exitCode != 0)
            #expect(early.standardError.contains("does not cover"), "\(early.standardError)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("early").path))

            let first = try await restoreOnceCovered(
                cluster, host: host, into: dir.appendingPathComponent("t1"))
            let before = try Self.liveTree(node, host: host)
            #expect(!before.isEmpty)
            #expect(
                try Cluster.tree(first.target) == before, "the restore at T1 differs from the live SSTables")

            // Compaction replaces every SSTable of one keyspace; a flush adds one to another table.
            let nodetool = node.nodetool()
            let keyspace = node.tables.filter { !$0.isSystem }[0].keyspace
            let compactions = try nodetool.compact(keyspace: keyspace)
            #expect(!compactions.isEmpty)
            let other = try #require(node.tables.first { !$0.isSystem && $0.keyspace != keyspace })
            try nodetool.flush(keyspace: other.keyspace, tables: [other.name])
            let after = try Self.liveTree(node, host: host)
            #expect(after != before)
            // The history dates each change when the agent saw it (normally milliseconds later,
            // seconds on a loaded machine): T2 is an instant by which it has seen both.
            try await waitUntilTheHistoryShows(after, cluster, host: host)

            let second = try await restoreOnceCovered(
                cluster, host: host, into: dir.appendingPathComponent("t2"))
            #expect(
                try Cluster.tree(second.target) == after, "the restore at T2 differs from the live SSTables")

            // T1 again, now that its SSTables are gone from the disk: they come from the bucket.
            let again = dir.appendingPathComponent("t1-again").path
            let result = try cluster.cli(["restore", "--node", host, "--at", first.at, "--to", again])
            #expect(result.exitCode == 0, "\(result.standardOutput) \(result.standardError)")
            #expect(result.standardOutput.contains("point in time"), "\(result.standardOutput)")
            #expect(try Cluster.tree(again) == before)
        }
    }

    /// Waits (bounded: 90 s) until the coordinator's live SSTables of `host` at "now" are the
    /// SSTables of `tree`.
    func waitUntilTheHistoryShows(_ tree: Set<String>, _ cluster: Cluster, host: String) async throws {
        let expected = Set(
            tree.compactMap { line -> String? in
                // <host>/<ks>/<table-dir>/<file> size sha
                let path = line.split(separator: " ")[0].split(separator: "/").map(String.init)
                guard let file = try? SSTableFileName.parse(path[3]) else { return nil }
                let table = path[2].split(separator: "-").first.map(String.init) ?? path[2]
                return "\(path[1]).\(table) \(file.sstableName)"
            })
        var seen: Set<String> = []
        for _ in 0..<90 {
            let result = try cluster.cli([
                "sstables", "--node", host, "--at", InstantFormat.format(Date()), "--json",
            ])
            if result.exitCode == 0,
                let rows = try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
                    as? [[String: Any]]
            {
                seen = Set(
                    rows.compactMap { row in
                        guard let ks = row["keyspace"] as? String, let t = row["table"] as? String,
                            let name = row["sstable"] as? String
                        else { return nil }
                        return "\(ks).\(t) \(name)"
                    })
                if seen == expected { return }
            }
            try await Task.sleep(for: .seconds(1))
        }
        Issue.record("the history never showed the disk: expected \(expected.sorted()), saw \(seen.sorted())")
    }

    /// Restores `host` as it is now, retrying until the coordinator's history covers this
    /// instant (heartbeats bring it a few seconds later) and every SSTable live then is in the
    /// bucket (bounded: 90 attempts, one a second). Each refusal names the gap or the
    /// incomplete SSTables, and writes nothing.
    func restoreOnceCovered(_ cluster: Cluster, host: String, into target: URL) async throws -> (
        at: String, target: String
    ) {
        let at = InstantFormat.format(Date())
        var last = ""
        for _ in 0..<90 {
            try? FileManager.default.removeItem(at: target)
            let result = try cluster.cli(["restore", "--node", host, "--at", at, "--to", target.path])
            if result.exitCode == 0 { return (at, target.path) }
            last = result.standardError
            try await Task.sleep(for: .seconds(1))
        }
        Issue.record("restore --at never succeeded: \(last); logs in \(cluster.dir.path)")
        throw CancellationError()
    }

    /// The node's live SSTable components outside index directories, as a restore lays them
    /// out: "<host>/<ks>/<table-dir>/<file> size sha256".
    static func liveTree(_ node: CassandraNodeFixture, host: String) throws -> Set<String> {
        try Cluster.tree(node.dataDirectories[0].path).filter { line in
            let path = line.split(separator: " ")[0].split(separator: "/")
            return path.count == 3 && (try? SSTableFileName.parse(String(path[2]))) != nil
        }.reduce(into: Set<String>()) { $0.insert("\(host)/\($1)") }
    }
}
