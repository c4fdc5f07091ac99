import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// Issue 11: the agent's metrics reach Prometheus through node_exporter's textfile collector.
@Suite struct AgentMetricsTests {
    @Test func aBackfillWritesTheTextfileAtomicallyWithWhatItDid() async throws {
        try await TemporaryDirectory.with { root in
            let node = try AgentStormTests.buildNode(root, keyspaces: 1, tables: 2, sstables: 2)
            try FakeNodetool(dataDirectories: node.dataDirectories).snapshot(tag: "metrics")
            var configuration = AgentTestSupport.configuration(
                node: node, store: "file://" + root.appendingPathComponent("bucket").path,
                state: root.appendingPathComponent("state"))
            let textfile = root.appendingPathComponent("collector/cassnap_agent.prom")
            try FileManager.default.createDirectory(
                at: textfile.deletingLastPathComponent(), withIntermediateDirectories: true)
            configuration.metricsTextfile = textfile.path
            let agent = try await Agent.build(
                configuration: configuration, once: true, logger: AgentTestSupport.logger)
            let summary = try await agent.runOnce()
            #expect(summary.succeeded)
            let text = try String(contentsOf: textfile, encoding: .utf8)
            #expect(text.contains("# TYPE cassnap_agent_uploaded_files_total counter\n"))
            #expect(text.contains("\ncassnap_agent_uploaded_files_total \(summary.uploaded)\n"), "\(text)")
            #expect(text.contains("\ncassnap_agent_uploaded_bytes_total \(summary.uploadedBytes)\n"))
            #expect(text.contains("\ncassnap_agent_queued_files 0\n"))
            #expect(text.contains("\ncassnap_agent_store_retries_total 0\n"))
            let last = text.split(separator: "\n").first {
                $0.hasPrefix("cassnap_agent_last_upload_timestamp_seconds ")
            }
            let seconds = Double(last?.split(separator: " ").last ?? "") ?? 0
            #expect(abs(seconds - Date().timeIntervalSince1970) < 600, "\(last ?? "")")
            // Written through a temporary file that is gone.
            let leftovers = try FileManager.default.contentsOfDirectory(
                atPath: textfile.deletingLastPathComponent().path)
            #expect(leftovers == ["cassnap_agent.prom"])
        }
    }

    @Test func aTextfilePathThatNodeExporterWouldIgnoreIsAConfigurationError() {
        var c = AgentConfiguration()
        c.dataDirectories = ["/d"]
        c.store = "file:///x"
        c.metricsTextfile = "relative/agent.txt"
        let error = #expect(throws: AgentConfigurationError.self) { try c.validate(source: "x.yaml") }
        #expect(error?.key == "metrics_textfile")
    }
}
