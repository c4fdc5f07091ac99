import CassnapAPI
import CassnapCore
import CassnapTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import CassnapAgent

/// A coordinator that answers 500 is a warning, not a debug line, and not a flood: one warning
/// at the start of the streak, then at most one per interval with the count, info on recovery.
@Suite struct CoordinatorLinkTests {
    static let failureMessages = [
        "Polling for commands failed", "Heartbeat failed", "Delivering reports failed; retrying",
    ]
    static let recoveryMessages = [
        "Polling for commands recovered", "Heartbeats to the coordinator recovered",
        "Delivering reports recovered",
    ]

    /// Registration always succeeds; everything else answers 500 until `healthy` is set.
    static func coordinator(healthy: Switch) throws -> StubHTTPServer {
        try StubHTTPServer { request in
            func json<T: Encodable>(_ value: T) -> StubHTTPServer.Response {
                .json(String(decoding: try! APICoding.encoder().encode(value), as: UTF8.self))
            }
            let reply = AgentAPI.HeartbeatReply(coordinatorTime: Date())
            if request.path.hasSuffix("/register") { return json(reply) }
            guard healthy.isOn else {
                return .json(
                    #"{"error":{"code":"internal","message":"the catalog is on fire"}}"#, status: 500)
            }
            if request.path.contains("/commands") {
                usleep(100_000)  // a long poll that found nothing, shortened
                return json([AgentAPI.Command]())
            }
            if request.path.hasSuffix("/manifests") || request.path.hasSuffix("/files")
                || request.path.hasSuffix("/sstable-events")
            {
                return json(AgentAPI.ReportReceipt(reportID: "r", accepted: 1, duplicate: false))
            }
            return json(reply)
        }
    }

    @Test func a500IsAWarningPacedPerIntervalAndRecoveryIsInfo() async throws {
        let healthy = Switch()
        let server = try Self.coordinator(healthy: healthy)
        defer { server.stop() }
        try await TemporaryDirectory.with { root in
            var configuration = AgentTestSupport.configuration(root: root)
            configuration.nodetool = "/bin/false"
            let log = CapturedLog()
            let agent = try await Agent.build(configuration: configuration, logger: log.logger())
            var link = agent.coordinatorLink(url: server.url, token: "t0ken", logger: log.logger())
            link.heartbeatInterval = .milliseconds(100)
            link.failureWarningInterval = .seconds(2)
            try await link.queueManifestReport(
                AgentAPI.ManifestReport(
                    snapshotID: SnapshotID(), tag: try SnapshotTag("nightly"), manifestKey: nil, takenAt: nil,
                    files: 0, bytes: 0, error: "test"))

            let linkStarted = Date()
            let stopped = Switch()
            let running = Task { [link] in await link.run(stopped: { stopped.isOn }) }
            defer {
                stopped.turnOn()
                running.cancel()
            }

            // The first failure of each loop warns at once.
            let warned = await AgentTestSupport.waitUntil(timeout: 120) {
                Self.failureMessages.allSatisfy { !log.records($0).isEmpty }
            }
            #expect(warned, "\(log.records.map(\.message))")
            for message in Self.failureMessages {
                let first = try #require(log.records(message).first)
                #expect(first.level == .warning, "\(message)")
                #expect(first.metadata["failures.since_last_warning"] == "1", "\(message)")
                #expect(first.metadata["error.message"]?.contains("500") == true, "\(first.metadata)")
                #expect(first.metadata["error.message"]?.contains("t0ken") == false)
            }

            // Failures go on (heartbeats every 100 ms); warnings come once per 2 s at most. Waits
            // are bounded but not timed: load only makes the second warning come later.
            let second = await AgentTestSupport.waitUntil(timeout: 120) {
                log.records("Heartbeat failed").count >= 2
            }
            #expect(second, "no second warning while the failures went on")
            let heartbeats = log.records("Heartbeat failed")
            let elapsed = Date().timeIntervalSince(linkStarted)
            #expect(heartbeats.count <= Int(elapsed / 2) + 1, "more than one warning per 2 s interval")
            let failedRequests = server.requests.filter { $0.path.hasSuffix("/heartbeat") }.count
            #expect(failedRequests > heartbeats.count, "the heartbeat loop keeps trying between warnings")
            if heartbeats.count >= 2 {
                let counted = Int(heartbeats[1].metadata["failures.since_last_warning"] ?? "") ?? 0
                #expect(counted > 1, "the second warning counts the failures since the first")
            }

            // Recovery is one info line per loop, and the warnings stop.
            healthy.turnOn()
            let recovered = await AgentTestSupport.waitUntil(timeout: 120) {
                Self.recoveryMessages.allSatisfy { !log.records($0).isEmpty }
            }
            #expect(recovered, "\(log.records.map(\.message))")
            for message in Self.recoveryMessages {
                let records = log.records(message)
                #expect(records.count == 1, "\(message)")
                #expect(records.first?.level == .info)
                #expect(Int(records.first?.metadata["failures.total"] ?? "") ?? 0 >= 1)
            }
            let warningsAfterRecovery = log.records.filter { $0.level == .warning }.count
            try await Task.sleep(for: .milliseconds(500))
            #expect(log.records.filter { $0.level == .warning }.count == warningsAfterRecovery)
            #expect(try await agent.state.outbox(limit: 10).isEmpty, "the queued report was delivered")
            stopped.turnOn()
            running.cancel()
            await running.value
        }
    }

    /// Issue 11: a coordinator of another cluster is one error line with both names and the
    /// key that fixes it, however often registration is retried.
    @Test func aClusterMismatchIsLoggedOnceWithBothNames() async throws {
        let server = try StubHTTPServer { request in
            guard request.path.hasSuffix("/register") else { return .json("{}", status: 404) }
            return .json(
                #"{"error":{"code":"cluster_mismatch","message":"cluster: this coordinator serves \"Test Cluster\", not \"prod-eu\""}}"#,
                status: 409)
        }
        defer { server.stop() }
        try await TemporaryDirectory.with { root in
            var configuration = AgentTestSupport.configuration(root: root)
            configuration.cluster = "prod-eu"
            configuration.nodetool = "/bin/false"
            let log = CapturedLog()
            let agent = try await Agent.build(configuration: configuration, logger: log.logger())
            let link = agent.coordinatorLink(url: server.url, token: "t0ken", logger: log.logger())
            let stopped = Switch()
            let running = Task { [link] in await link.run(stopped: { stopped.isOn }) }
            let retried = await AgentTestSupport.waitUntil(timeout: 120) {
                server.requests.filter { $0.path.hasSuffix("/register") }.count >= 3
            }
            stopped.turnOn()
            running.cancel()
            await running.value
            #expect(retried, "registration was not retried")
            let lines = log.records(
                "The coordinator serves another cluster: not registering until the names agree")
            #expect(lines.count == 1, "\(log.records.map(\.message))")
            #expect(lines.first?.level == .error)
            #expect(lines.first?.metadata["cluster.name"] == "prod-eu")
            #expect(lines.first?.metadata["coordinator.answer"]?.contains("Test Cluster") == true)
            #expect(lines.first?.metadata["hint"]?.contains("set cluster") == true)
            #expect(log.records("Cannot register with the coordinator; retrying").isEmpty)
        }
    }

    final class Switch: Sendable {
        private let value = Atomic(false)
        var isOn: Bool { value.load(ordering: .relaxed) }
        func turnOn() { value.store(true, ordering: .relaxed) }
    }
}
