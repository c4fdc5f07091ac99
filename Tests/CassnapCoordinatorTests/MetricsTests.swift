import CassnapAPI
import CassnapClient
import CassnapCoordinator
import CassnapCore
import CassnapTestSupport
import Foundation
import Testing

/// Issue 11: `/metrics` in the Prometheus text format, with the admin token by default, or
/// open, or on its own listener.
@Suite struct MetricsTests {
    /// `name{labels} value` lines of the text format, by `name{labels}`.
    static func samples(_ text: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...])
            else {
                continue
            }
            result[String(line[..<space])] = value
        }
        return result
    }

    @Test func metricsReportSnapshotsNodesReportsAndLatency() async throws {
        try await InProcessCoordinator.with { coordinator, store in
            let nodes = try await SimulatedNode.joined(2, to: coordinator, store: store)
            let created = try await coordinator.admin.createSnapshot(.init(delaySeconds: 0.2))
            for node in nodes { try await node.takeSnapshot() }
            try await eventually("the snapshot to complete") {
                try await coordinator.admin.snapshot(created.summary.id.description).summary.status
                    == .complete
            }
            _ = try await coordinator.admin.createSchedule(.init(name: "nightly", cron: "0 2 * * *"))

            let (denied, _) = try await coordinator.admin.raw("GET", "/metrics", token: "")
            #expect(denied == 401, "the admin token is required by default")
            let (status, text) = try await coordinator.admin.raw("GET", "/metrics")
            #expect(status == 200)
            let s = Self.samples(text)
            #expect(s[#"cassnap_snapshots{status="complete"}"#] == 1, "\(text)")
            #expect(s[#"cassnap_snapshots{status="pending"}"#] == 0)
            #expect(s["cassnap_nodes_registered"] == 2)
            #expect(s["cassnap_nodes_live"] == 2)
            #expect(s[#"cassnap_reports_ingested_total{kind="files"}"#].map { $0 > 0 } == true)
            #expect(s[#"cassnap_reports_ingested_total{kind="manifests"}"#] == 2)
            #expect(s[#"cassnap_schedule_last_complete_timestamp_seconds{schedule="nightly"}"#] == 0)
            let host = nodes[0].host.description
            // SimulatedNode's heartbeat: 3 files queued, the oldest 1.5 s old, its clock 60 s ahead.
            let labels = #"{host_id="\#(host)",hostname="node1"}"#
            #expect(s["cassnap_node_queued_files" + labels] == 3, "\(text)")
            #expect(s["cassnap_node_oldest_queued_age_seconds" + labels] == 1.5)
            // 60 s ahead, less however long the heartbeat took to arrive (seconds on a loaded
            // 2-core machine): the sign and the size say the offset is the node's clock.
            #expect((s["cassnap_node_clock_offset_seconds" + labels] ?? 0) > 30)
            // Latency by route pattern, never by the raw path with its host ID.
            let heartbeat = s.first {
                $0.key.hasPrefix("cassnap_http_request_duration_seconds_count{")
                    && $0.key.contains(#"route="/v1/agents/{hostID}/heartbeat""#)
            }
            #expect((heartbeat?.value ?? 0) >= 2, "\(text)")
            #expect(!text.contains(host + "/heartbeat"))
        }
    }

    @Test func metricsCanBeOpenOrOnTheirOwnListener() async throws {
        try await InProcessCoordinator.with(configure: { $0.metrics.requireToken = false }) {
            coordinator, _ in
            let (status, text) = try await coordinator.admin.raw("GET", "/metrics", token: "")
            #expect(status == 200 && text.contains("cassnap_nodes_registered 0"), "\(status) \(text)")
        }
        let port = try Self.freePort()
        try await InProcessCoordinator.with(configure: { $0.metrics.listen = "127.0.0.1:\(port)" }) {
            coordinator, _ in
            let (onAPI, _) = try await coordinator.admin.raw("GET", "/metrics")
            #expect(onAPI == 404, "not beside the API when it has its own listener")
            let own = CoordinatorClient(baseURL: "http://127.0.0.1:\(port)", token: adminToken)
            var answered: (Int, String) = (0, "")
            try await eventually("the metrics listener") {
                answered = (try? await own.raw("GET", "/metrics")) ?? (0, "")
                return answered.0 == 200
            }
            #expect(answered.1.contains("cassnap_nodes_registered 0"))
            let (denied, _) = try await own.raw("GET", "/metrics", token: "")
            #expect(denied == 401)
        }
    }

    static func freePort() throws -> Int {
        let server = try StubHTTPServer { _ in .init() }
        defer { server.stop() }
        return Int(server.port)
    }
}
