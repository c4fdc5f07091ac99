import CassnapCore
import CassnapTestSupport
import Foundation
import Testing

/// Issue 11 (fault suite), with real processes on loopback: what must hold in each case is
/// nothing lost, a clear trace in the logs, and recovery without an operator.
extension ClusterEndToEndTests {
    /// Waits (bounded: `seconds`) until the snapshot is no longer pending; answers its status.
    func finalStatus(_ cluster: Cluster, _ tag: String, seconds: Int = 120) async throws -> String {
        var final = ""
        for _ in 0..<(seconds * 2) {
            final = (try status(cluster, tag)["summary"] as? [String: Any])?["status"] as? String ?? ""
            if final == "complete" || final == "partial" || final == "failed" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        return final
    }

    /// S3 answers 503 and 500 and resets connections, through the fault proxy, while every
    /// agent uploads its part of a cluster snapshot: retried, and the snapshot is complete.
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func aClusterSnapshotCompletesThroughS3ErrorsAndResets() async throws {
        try await TemporaryDirectory.with { dir in
            let cluster = try await Cluster(dir: dir)
            defer { cluster.stop() }
            let proxy = try FaultProxy(upstream: cluster.endpoint)
            cluster.agentEndpoint = proxy.url
            try cluster.startCoordinator()
            for n in 1...3 { try cluster.startAgent(n) }
            try await cluster.waitForNodes(3)
            let create = try cluster.cli([
                "snapshot", "create", "--in", "3s", "--tag", "e2e-s3-faults", "--deadline", "120",
            ])
            #expect(create.exitCode == 0, "\(create.standardError)")
            proxy.inject(
                .respond(status: 503), .respond(status: 500), .resetImmediately, .respond(status: 503),
                .resetAfterRequestBodyBytes(1000), .respond(status: 500), matching: "PUT /")
            #expect(try await finalStatus(cluster, "e2e-s3-faults") == "complete", "logs in \(dir.path)")
            #expect(proxy.injectedCount == 6, "every fault met an upload")
            #expect(
                try cluster.listedFiles(tag: "e2e-s3-faults").files
                    == cluster.snapshotFilesOnDisk(tag: "e2e-s3-faults", nodes: [1, 2, 3]))
            let logs = try (1...3).map {
                try String(contentsOf: dir.appendingPathComponent("agent\($0).log"), encoding: .utf8)
            }.joined()
            #expect(logs.contains("Retrying a store request"), "the retries are in the agents' logs")
        }
    }

    /// The coordinator is down for 60 s across a snapshot's instant: agents take it at the
    /// instant by their own clocks, keep their reports, and the snapshot completes once the
    /// coordinator is back.
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func aCoordinatorDownForAMinuteAcrossTheInstantStillCompletesTheSnapshot() async throws {
        try await Cluster.withThreeNodes { cluster in
            let create = try cluster.cli([
                "snapshot", "create", "--in", "3s", "--tag", "e2e-down-60", "--deadline", "240",
            ])
            #expect(create.exitCode == 0, "\(create.standardError)")
            try await Task.sleep(for: .milliseconds(1500))  // agents have the command
            cluster.kill9(cluster.coordinator)
            try await Task.sleep(for: .seconds(60))
            try cluster.startCoordinator()
            #expect(
                try await finalStatus(cluster, "e2e-down-60") == "complete", "logs in \(cluster.dir.path)")
            #expect(
                try cluster.listedFiles(tag: "e2e-down-60").files
                    == cluster.snapshotFilesOnDisk(tag: "e2e-down-60", nodes: [1, 2, 3]))
        }
    }
}
