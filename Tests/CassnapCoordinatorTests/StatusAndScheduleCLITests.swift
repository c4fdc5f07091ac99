import CassnapAPI
import CassnapCoordinator
import CassnapCore
import Foundation
import Testing

/// Issue 11: `cassnap schedule …` and `cassnap status` as an operator types them.
@Suite struct StatusAndScheduleCLITests {
    @Test func scheduleCommandsAndTheStatusScreen() async throws {
        try await InProcessCoordinator.with(configure: ScheduleTests.quiet) { coordinator, store in
            let nodes = try await SimulatedNode.joined(2, to: coordinator, store: store)
            let url = coordinator.baseURL
            let created = try await cassnap(
                [
                    "schedule", "create", "nightly", "--cron", "0 2 * * *", "--keep-last", "7",
                    "--keep-within", "30d",
                ],
                coordinator: url)
            #expect(created.exitCode == 0, "\(created.standardError)")
            #expect(
                created.standardOutput.contains("runs:       cron 0 2 * * * (UTC)"),
                "\(created.standardOutput)")
            #expect(created.standardOutput.contains("retention:  keep the last 7 complete, keep within 30d"))
            let both = try await cassnap(
                ["schedule", "create", "x", "--cron", "0 2 * * *", "--every", "1h"], coordinator: url)
            #expect(
                both.exitCode == 64 && both.standardError.contains("--cron or --every"),
                "\(both.standardError)")
            let badCron = try await cassnap(
                ["schedule", "create", "x", "--cron", "0 25 * * *"], coordinator: url)
            #expect(
                badCron.exitCode == 64 && badCron.standardError.contains("hour \"25\""),
                "\(badCron.standardError)")

            let paused = try await cassnap(["schedule", "pause", "nightly"], coordinator: url)
            #expect(paused.standardOutput.contains("schedule nightly (paused)"), "\(paused.standardOutput)")
            let list = try await cassnap(["schedule", "list"], coordinator: url)
            #expect(list.standardOutput.contains("nightly") && list.standardOutput.contains("paused"))

            // One snapshot with a node that never reports: a recent failure with its reason.
            let snapshot = try await coordinator.admin.createSnapshot(
                .init(delaySeconds: 0.2, deadlineSeconds: 1))
            try await nodes[0].takeSnapshot()
            try await eventually("the deadline") {
                await coordinator.snapshots.tick(now: Date())
                return try await coordinator.admin.snapshot(snapshot.summary.id.description).summary.status
                    == .partial
            }
            let status = try await cassnap(["status"], coordinator: url)
            #expect(status.exitCode == 0, "\(status.standardError)")
            let text = status.standardOutput
            #expect(
                text.contains("nodes: 2 registered, 2 with a heartbeat in the last 90 s; 6 files waiting"),
                "\(text)")
            #expect(text.contains("schedules: 1"))
            #expect(text.contains("\(snapshot.summary.tag) partial"), "\(text)")
            #expect(text.contains("node2: no manifest reported before the deadline"), "\(text)")
            let json = try await cassnap(["status", "--json"], coordinator: url)
            let object =
                try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
            #expect((object?["recentFailures"] as? [Any])?.count == 1)

            let deleted = try await cassnap(["schedule", "delete", "nightly"], coordinator: url)
            #expect(deleted.exitCode == 0)
            let gone = try await cassnap(["schedule", "show", "nightly"], coordinator: url)
            #expect(gone.exitCode == 3, "\(gone.exitCode) \(gone.standardError)")
        }
    }
}
