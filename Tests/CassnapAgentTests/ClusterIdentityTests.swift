import CassnapCore
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// Issue 11: with no `cluster` configured the agent takes Cassandra's `cluster_name` from
/// `nodetool describecluster`, as it takes the host ID from `nodetool info`, and remembers it
/// for a start while Cassandra is down.
@Suite struct ClusterIdentityTests {
    @Test func anUnconfiguredClusterIsLearnedFromNodetoolAndRemembered() async throws {
        try await TemporaryDirectory.with { root in
            let node = try SnapshotRunnerOpaqueTests.node(root) { _ in }
            var configuration = node.configuration
            configuration.cluster = nil
            configuration.nodetool = node.nodetool.executable
            let agent = try await Agent.build(configuration: configuration, logger: AgentTestSupport.logger)
            #expect(agent.keys.cluster.rawValue == "Test Cluster", "fake nodetool's describecluster")
            #expect(try await agent.state.meta("cluster") == "Test Cluster")

            // Cassandra down: the remembered name, with a warning.
            configuration.nodetool = "/nonexistent/nodetool"
            let log = CapturedLog()
            let again = try await Agent.build(configuration: configuration, logger: log.logger())
            #expect(again.keys.cluster.rawValue == "Test Cluster")
            #expect(log.records.contains { $0.message.contains("using the remembered cluster name") })

            // Nothing configured, nothing remembered, no nodetool: an error naming the key.
            var fresh = configuration
            fresh.stateDirectory = root.appendingPathComponent("fresh-state").path
            await #expect {
                _ = try await Agent.build(configuration: fresh, logger: AgentTestSupport.logger)
            } throws: { "\($0)".contains("set cluster in the configuration or --cluster") }
        }
    }

    @Test func aConfiguredClusterWinsOverNodetool() async throws {
        try await TemporaryDirectory.with { root in
            let node = try SnapshotRunnerOpaqueTests.node(root) { _ in }
            var configuration = node.configuration
            configuration.cluster = "prod-eu"
            configuration.nodetool = node.nodetool.executable
            let agent = try await Agent.build(configuration: configuration, logger: AgentTestSupport.logger)
            #expect(agent.keys.cluster.rawValue == "prod-eu")
        }
    }
}
