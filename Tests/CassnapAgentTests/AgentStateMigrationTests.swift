import CassnapAPI
import CassnapTestSupport
import Foundation
import GRDB
import Testing

@testable import CassnapAgent

/// The agent's state database across an upgrade: reports an older agent queued under its own
/// spelling of the kinds are delivered under the shared one (`AgentAPI.ReportKind`).
@Suite struct AgentStateMigrationTests {
    @Test func reportsQueuedBeforeTheKindsWereSharedKeepTheirKind() async throws {
        try await TemporaryDirectory.with { root in
            let directory = root.appendingPathComponent("state").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let old = try DatabaseQueue(path: directory + "/agent.sqlite")
            try AgentState.migrator.migrate(old, upTo: "v2")
            try await old.write { db in
                for (n, kind) in ["file", "sstable-event", "manifest", "node-snapshot", "from-the-future"]
                    .enumerated()
                {
                    try db.execute(
                        sql: "INSERT INTO outbox (kind, report_id, payload, created_at) VALUES (?, ?, ?, 0)",
                        arguments: [kind, "r\(n)", Data("{}".utf8)])
                }
            }
            try old.close()

            let state = try AgentState(directory: directory)
            #expect(
                try await state.outbox().map(\.kind) == [
                    "files", "sstable-events", "manifests", "node-snapshots", "from-the-future",
                ])
            for kind in AgentAPI.ReportKind.allCases { #expect(try await state.outboxCount(kind: kind) == 1) }
        }
    }
}
