import CassnapStoreFactory
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// Issue 11 (fault suite): `fs.inotify.max_user_watches` exhausted (lowered by the test, under
/// the same lock and repair as the queue tests, and restored as soon as the agent has hit it).
/// What must hold: one clear error naming the sysctl, nothing lost — files in directories the
/// agent could not watch ship through the periodic scan (30 s at most) — and the live-SSTable
/// history ends, so `restore --at` cannot claim a coverage it no longer has.
@Suite(
    .serialized,
    .enabled(if: InotifyLimits.overflowTestsEnabled, Comment(rawValue: InotifyLimits.skipReason)))
struct AgentWatchLimitTests {
    typealias S = AgentTestSupport

    @Test func outOfWatchesTheAgentFallsBackToScansAndLosesNothing() async throws {
        try await TemporaryDirectory.with { root in
            // 2 keyspaces × 10 tables: about 60 directories to watch.
            let node = try AgentStormTests.buildNode(root, keyspaces: 2, tables: 10, sstables: 2)
            let storeURL = "file://" + root.appendingPathComponent("bucket").path
            let configuration = S.configuration(
                node: node, store: storeURL, state: root.appendingPathComponent("state"))
            let log = CapturedLog()
            let agent = try await Agent.build(configuration: configuration, logger: log.logger())
            let roots = node.dataDirectories.map(\.path)
            let message =
                "Out of inotify watches: raise fs.inotify.max_user_watches; falling back to periodic scans"

            let expected = try await InotifyLimits.withMaxUserWatches(InotifyLimits.watchesOfThisUser() + 8) {
                lowering in
                try await S.withRunningAgent(agent) { () async throws -> [String: String] in
                    let limited = await S.waitUntil(timeout: 60) { !log.records(message).isEmpty }
                    try lowering.restore()
                    #expect(limited, "the agent never ran out of watches: \(log.records.map(\.message))")
                    // A snapshot in directories nobody watches.
                    try FakeNodetool(dataDirectories: node.dataDirectories).snapshot(tag: "unwatched")
                    let expected = S.expectedFiles(roots)
                    try await S.expectShipped(expected.count, by: agent.state, timeout: 180)
                    #expect(
                        await agent.ingestor.liveHistory.interval == nil, "no live history without watches")
                    return expected
                }
            }
            #expect(log.records(message).count == 1, "one error, not one per directory")
            #expect(log.records(message).first?.level == .error)
            try await AgentStormTests.checkStore(
                try ObjectStoreFactory.open(url: storeURL), roots: roots, expected: expected)
        }
    }
}
