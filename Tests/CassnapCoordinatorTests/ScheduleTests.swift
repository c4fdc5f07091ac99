import CassnapAPI
import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

/// Issue 11: recurring cluster snapshots. Time is driven by calling `tick(now:)` with chosen
/// instants; the background runners tick only once an hour here, so they never race the test.
@Suite(.serialized) struct ScheduleTests {
    static func quiet(_ c: inout CoordinatorConfiguration) { c.snapshots.schedulerIntervalSeconds = 3600 }

    /// Lets the node take the snapshot the run started, then waits until it is complete.
    func complete(_ run: AdminAPI.ScheduleInfo, node: SimulatedNode, _ coordinator: InProcessCoordinator)
        async throws -> AdminAPI.SnapshotSummary
    {
        let summary = try #require(run.lastSnapshot)
        try await node.takeSnapshot()
        try await eventually("snapshot \(summary.tag) to complete") {
            try await coordinator.admin.snapshot(summary.id.description).summary.status == .complete
        }
        await coordinator.snapshots.tick(now: Date())
        return summary
    }

    @Test func aScheduleRunsWhenDueAndItsRetentionDeletesOnlyItsOwnExpiredSnapshots() async throws {
        try await InProcessCoordinator.with(configure: Self.quiet) { coordinator, store in
            let node = try await SimulatedNode.joined(1, to: coordinator, store: store)[0]
            let admin = coordinator.admin
            // A snapshot of nobody's schedule, which retention must never touch.
            _ = try await admin.createSnapshot(.init(delaySeconds: 0.2, tag: "by-hand"))
            try await node.takeSnapshot()

            let created = try await admin.createSchedule(
                .init(name: "hourly", everySeconds: 3600, keepLast: 1))
            #expect(created.nextRunAt == created.createdAt.addingTimeInterval(3600))
            let keys = ObjectKeys(cluster: try ClusterName(clusterName))
            #expect(
                try await store.headIfExists(key: keys.key(for: .schedule(name: ScheduleName("hourly"))))
                    != nil)

            // Not due yet: nothing happens.
            await coordinator.schedules.tick(now: created.createdAt.addingTimeInterval(3599))
            #expect(try await admin.schedule("hourly").lastRunAt == nil)

            let firstDue = try #require(created.nextRunAt)
            await coordinator.schedules.tick(now: firstDue.addingTimeInterval(1))
            let firstRun = try await admin.schedule("hourly")
            #expect(firstRun.lastRunAt == firstDue)
            #expect(firstRun.lastSnapshot?.tag.rawValue.hasPrefix("hourly.") == true)
            #expect(firstRun.nextRunAt == firstDue.addingTimeInterval(3600))
            let first = try await complete(firstRun, node: node, coordinator)
            await coordinator.schedules.tick(now: firstDue.addingTimeInterval(2))
            #expect(
                try await admin.schedule("hourly").lastRetention?.hasPrefix("deleted 0 snapshots") == true)

            let secondDue = try #require(firstRun.nextRunAt)
            await coordinator.schedules.tick(now: secondDue.addingTimeInterval(1))
            let secondRun = try await admin.schedule("hourly")
            #expect(secondRun.lastSnapshot?.tag != first.tag)
            let second = try await complete(secondRun, node: node, coordinator)
            await coordinator.schedules.tick(now: secondDue.addingTimeInterval(2))

            let after = try await admin.schedule("hourly")
            #expect(
                after.lastRetention?.hasPrefix("deleted 1 snapshots (\(first.tag))") == true,
                "\(after.lastRetention ?? "")")
            #expect(after.lastCompleteAt == second.requestedAt)
            let tags = Set(try await admin.listSnapshots().map(\.tag.rawValue))
            #expect(tags == ["by-hand", second.tag.rawValue])
            #expect(
                try await store.headIfExists(key: keys.key(for: .clusterSnapshotRecord(tag: first.tag)))
                    == nil)
            #expect(
                try await store.headIfExists(
                    key: keys.key(for: .nodeManifest(host: node.host, tag: first.tag)))
                    == nil)
            #expect(
                try await store.headIfExists(
                    key: keys.key(for: .nodeManifest(host: node.host, tag: second.tag)))
                    != nil)
        }
    }

    @Test func aMissedRunIsTakenOnceWithinTheCatchUpWindowAndSkippedBeyondIt() async throws {
        try await InProcessCoordinator.with(configure: Self.quiet) { coordinator, store in
            _ = try await SimulatedNode.joined(1, to: coordinator, store: store)
            let admin = coordinator.admin
            let created = try await admin.createSchedule(.init(name: "nightly", cron: "0 2 * * *"))
            let due = try #require(created.nextRunAt)
            // Down for three days and back 20 minutes after a run's time: one run, not three.
            await coordinator.schedules.tick(now: due.addingTimeInterval(2 * 86_400 + 1200))
            let caught = try await admin.schedule("nightly")
            #expect(
                caught.lastRunAt == due.addingTimeInterval(2 * 86_400),
                "the latest missed time is the one run")
            #expect(caught.lastSnapshot?.tag.rawValue.hasSuffix("T020000Z") == true)
            #expect(try await admin.listSnapshots().count == 1)
            #expect(caught.nextRunAt == due.addingTimeInterval(3 * 86_400))

            // Back three hours after the next one: beyond the 1 h window, skipped.
            let next = try #require(caught.nextRunAt)
            await coordinator.schedules.tick(now: next.addingTimeInterval(3 * 3600))
            let skipped = try await admin.schedule("nightly")
            #expect(try await admin.listSnapshots().count == 1, "no run for a time 3 h gone")
            #expect(skipped.lastRunAt == caught.lastRunAt)
            #expect(skipped.nextRunAt == next.addingTimeInterval(86_400))
        }
    }

    @Test func pauseResumeDeleteAndTheBucketCopyThatRebuildBringsBack() async throws {
        try await InProcessCoordinator.with(configure: Self.quiet) { coordinator, store in
            _ = try await SimulatedNode.joined(1, to: coordinator, store: store)
            let admin = coordinator.admin
            let created = try await admin.createSchedule(
                .init(name: "weekly", cron: "0 3 * * 0", keyspaces: ["shop"], keepWithinSeconds: 30 * 86_400))
            let paused = try await admin.setSchedule("weekly", paused: true)
            #expect(paused.paused && paused.nextRunAt == nil)
            await coordinator.schedules.tick(now: created.createdAt.addingTimeInterval(30 * 86_400))
            #expect(try await admin.listSnapshots().isEmpty, "a paused schedule does not run")

            // The catalog lost: a rebuild brings the schedule back from the bucket, still paused.
            let scratch = try TemporaryDirectory(prefix: "cassnap-rebuilt")
            defer { scratch.remove() }
            let (fresh, result) = try await rebuiltCatalog(from: store, in: scratch.url)
            let keys = ObjectKeys(cluster: try ClusterName(clusterName))
            #expect(result.schedules == 1)
            let rebuilt = try #require(try await fresh.schedule(ScheduleName("weekly")))
            #expect(
                rebuilt.schedule == (try await coordinator.schedules.state(ScheduleName("weekly"))).schedule)
            #expect(rebuilt.schedule.paused && rebuilt.nextRunAt == nil)

            let resumed = try await admin.setSchedule("weekly", paused: false)
            #expect(!resumed.paused)
            #expect(resumed.nextRunAt.map { $0 > Date() } == true)
            _ = try await admin.deleteSchedule("weekly")
            #expect(try await admin.schedules().isEmpty)
            #expect(
                try await store.headIfExists(key: keys.key(for: .schedule(name: ScheduleName("weekly"))))
                    == nil)
        }
    }

    @Test func badScheduleRequestsAreRefusedNamingTheField() async throws {
        try await InProcessCoordinator.with(configure: Self.quiet) { coordinator, _ in
            for (body, mentions) in [
                (#"{"name": "a.b", "everySeconds": 3600}"#, "name:"),
                (#"{"name": "x", "cron": "0 2 * * *", "everySeconds": 3600}"#, "cron:"),
                (#"{"name": "x"}"#, "cron:"),
                (#"{"name": "x", "cron": "61 * * * *"}"#, "cron:"),
                (#"{"name": "x", "everySeconds": 10}"#, "everySeconds:"),
                (#"{"name": "x", "everySeconds": 3600, "keepLast": 0}"#, "keepLast:"),
                (#"{"name": "x", "everySeconds": 3600, "tables": ["nodot"]}"#, "tables[0]:"),
            ] {
                let (status, text) = try await coordinator.admin.raw(
                    "POST", "/v1/schedules", body: Array(body.utf8))
                #expect(status == 400, "\(body): \(status) \(text)")
                let error = try? APICoding.decoder().decode(APIErrorBody.self, from: Data(text.utf8))
                #expect(error?.error.message.hasPrefix(mentions) == true, "\(body): \(text)")
            }
            #expect(try await coordinator.admin.schedules().isEmpty, "nothing was created")
            let (status, _) = try await coordinator.admin.raw("GET", "/v1/schedules/missing")
            #expect(status == 404)
        }
    }
}
