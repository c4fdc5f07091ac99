import CassnapCore
import CassnapTestSupport
import Foundation
import Testing

/// Issue 11 (fault suite): an agent killed with -9 in the middle of a cluster snapshot — after
/// `nodetool snapshot`, while it uploads — and started again resumes that snapshot from its
/// state: nothing lost, the node complete, no operator involved. Before, the restarted agent
/// saw the command as already started and ignored it until the deadline failed the node.
extension ClusterEndToEndTests {
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func anAgentKilledMidSnapshotResumesItAfterRestart() async throws {
        try await TemporaryDirectory.with { dir in
            let cluster = try await Cluster(dir: dir)
            defer { cluster.stop() }
            try cluster.startCoordinator()
            // Node 1 uploads slowly, so the kill lands between the snapshot and its manifest.
            try cluster.startAgent(1, extra: ["--bandwidth", "16KiB/s"])
            for n in 2...3 { try cluster.startAgent(n) }
            try await cluster.waitForNodes(3)
            let create = try cluster.cli([
                "snapshot", "create", "--in", "3s", "--tag", "e2e-agent-kill", "--deadline", "120",
            ])
            #expect(create.exitCode == 0, "\(create.standardError)")

            let log = dir.appendingPathComponent("agent1.log")
            var taken = false
            for _ in 0..<120 {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                if text.contains("Snapshot taken") { taken = true; break }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(taken, "node 1 never took the snapshot; logs in \(dir.path)")
            cluster.kill9(cluster.agents[1])
            let key = cluster.nodes[0].hostID!.uuidString.lowercased()
            #expect(
                try await cluster.store.headIfExists(
                    key: "e2e/nodes/\(key)/snapshots/e2e-agent-kill/manifest.json")
                    == nil, "killed before its manifest")

            try cluster.startAgent(1)
            #expect(try await finalStatus(cluster, "e2e-agent-kill") == "complete", "logs in \(dir.path)")
            #expect(
                try cluster.listedFiles(tag: "e2e-agent-kill").files
                    == cluster.snapshotFilesOnDisk(tag: "e2e-agent-kill", nodes: [1, 2, 3]))
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            #expect(text.contains("Snapshot command resumed after a restart"), "\(dir.path)")
        }
    }
}
