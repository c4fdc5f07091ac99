import CassnapCore
import CassnapTestSupport
import Foundation
import Testing

/// Issue 11 (fault suite): a node cut off from the network. The coordinator and its S3 server
/// run in a hub namespace, each agent in its own namespace joined to the hub by a veth pair,
/// all made by the test (`NetworkNamespaces`); no address of the root namespace is used.
extension ClusterEndToEndTests {
    /// Node 3 is cut off (its link dropped, not refused) just after it has the command, and
    /// stays cut off across the instant and for half a minute after. It must take the snapshot at
    /// the instant by its own clock, keep its reports and its new SSTables, say in its log what
    /// fails, and catch up on its own once the link is back: the snapshot completes with every
    /// file, and the node restores as it is now, including what it flushed while cut off.
    @Test(
        .enabled(
            if: TestServers.isCI || (TestServers.s3Enabled && NetworkNamespaces.available),
            "needs root, ip netns and moto_server: run `make test` as root"))
    func aNodeCutOffAcrossTheInstantCatchesUpOnItsOwnWhenTheLinkIsBack() async throws {
        try await TemporaryDirectory.with { dir in
            let network = try NetworkNamespaces(nodes: 3)
            defer { network.remove() }
            let cluster = try await Cluster(dir: dir, network: network)
            defer { cluster.stop() }
            try cluster.startCoordinator()
            try cluster.startAgent(1)
            try cluster.startAgent(2)
            try cluster.startAgent(3, extra: ["--watch", "snapshots,backups,live"])
            try await cluster.waitForNodes(3)
            let cutOff = cluster.nodes[2]
            let host = cutOff.hostID!.uuidString.lowercased()

            let create = try cluster.cli([
                "snapshot", "create", "--in", "6s", "--tag", "e2e-cut", "--deadline", "300",
            ])
            #expect(create.exitCode == 0, "\(create.standardError)")
            try await Task.sleep(for: .seconds(2))  // the long-poll has handed every agent the command
            try network.cut(3)
            let cutAt = Date()

            // While cut off: new SSTables appear on the node, and the instant passes.
            let nodetool = cutOff.nodetool()
            let table = try #require(cutOff.tables.first { !$0.isSystem })
            try nodetool.flush(keyspace: table.keyspace, tables: [table.name])
            try await Task.sleep(for: .seconds(20))

            // The node took its snapshot at the instant without the network.
            let taken = try cluster.snapshotFilesOnDisk(tag: "e2e-cut", nodes: [3])
            #expect(!taken.isEmpty, "node 3 took no snapshot while cut off; logs in \(dir.path)")
            // The others are complete; the snapshot waits for node 3 and says so.
            let show = try status(cluster, "e2e-cut")
            #expect((show["summary"] as? [String: Any])?["status"] as? String == "pending", "\(show)")
            let byNode = Dictionary(
                ((show["nodes"] as? [[String: Any]]) ?? []).compactMap { node -> (String, String)? in
                    guard let id = node["hostID"] as? String, let status = node["status"] as? String else {
                        return nil
                    }
                    return (id, status)
                }, uniquingKeysWith: { a, _ in a })
            #expect(byNode.count == 3, "\(show)")
            #expect(byNode[host] != "complete", "\(show)")
            #expect(byNode.filter { $0.key != host }.values.allSatisfy { $0 == "complete" }, "\(show)")
            // The coordinator's view shows node 3 silent since the cut, and the others fresh.
            let heartbeats = try lastHeartbeats(cluster)
            #expect(
                heartbeats[host].map { $0 < cutAt.addingTimeInterval(1) } == true,
                "node 3's last heartbeat \(String(describing: heartbeats[host])) is after the cut at \(cutAt)"
            )
            #expect(
                heartbeats.filter { $0.key != host }.values.allSatisfy { $0 > cutAt.addingTimeInterval(10) },
                "\(heartbeats)")

            try network.heal(3)
            #expect(
                try await finalStatus(cluster, "e2e-cut", seconds: 240) == "complete", "logs in \(dir.path)")
            #expect(
                try cluster.listedFiles(tag: "e2e-cut").files
                    == cluster.snapshotFilesOnDisk(tag: "e2e-cut", nodes: [1, 2, 3]))

            // Nothing it wrote while cut off is lost: the node restores as it is now.
            let now = try Self.liveTree(cutOff, host: host)
            try await waitUntilTheHistoryShows(now, cluster, host: host)
            let restored = try await restoreOnceCovered(
                cluster, host: host, into: dir.appendingPathComponent("now"))
            #expect(
                try Cluster.tree(restored.target) == now, "the restore differs from node 3's live SSTables")

            // Its log says what failed and that it recovered; the others' logs do not.
            let log = try String(contentsOf: dir.appendingPathComponent("agent3.log"), encoding: .utf8)
            #expect(log.contains("Heartbeat failed"), "agent3.log: \(log.suffix(2000))")
            #expect(log.contains(network.hubAddress(3)), "the warning names the coordinator's address")
            #expect(
                log.contains("Heartbeats to the coordinator recovered"), "agent3.log: \(log.suffix(2000))")
            let other = try String(contentsOf: dir.appendingPathComponent("agent1.log"), encoding: .utf8)
            #expect(!other.contains("Heartbeat failed"))
        }
    }

    /// Every node's last heartbeat, by host ID, from `cassnap nodes --json`.
    func lastHeartbeats(_ cluster: Cluster) throws -> [String: Date] {
        let result = try cluster.cli(["nodes", "--json"])
        #expect(result.exitCode == 0, "\(result.standardError)")
        let nodes =
            (try? JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]])
            ?? []
        var beats: [String: Date] = [:]
        for node in nodes {
            if let id = node["hostID"] as? String, let text = node["lastHeartbeat"] as? String,
                let date = InstantFormat.parse(text)
            {
                beats[id] = date
            }
        }
        return beats
    }
}
