import CassnapCore
import CassnapRepository
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// Issue 10: a snapshot an operator takes with `nodetool snapshot -t X` (cron, tablesnap style)
/// ships by watching; once it settles the agent writes its node manifest, and it restores from
/// the bucket alone although no cluster record names it. A tag the coordinator commanded is
/// left to the snapshot runner.
@Suite struct SettledSnapshotTests {
    typealias Runner = SnapshotRunnerOpaqueTests
    static let outside = "Node manifest written for a snapshot taken outside cassnap"

    @Test func aSnapshotTakenWithNodetoolGetsAManifestOnceSettledAndRestores() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Runner.node(root) { $0.secondaryIndexesPerTable = 1 }
            var configuration = node.configuration
            configuration.snapshotSettle = Interval(seconds: 1)
            configuration.nodetool = node.nodetool.executable
            _ = try await node.nodetool.run(["snapshot", "-t", "cron-1"])
            let log = CapturedLog()
            let agent = try await Agent.build(configuration: configuration, logger: log.logger())
            let tag = try SnapshotTag("cron-1")
            let key = agent.keys.key(for: .nodeManifest(host: agent.host, tag: tag))
            try await AgentTestSupport.withRunningAgent(agent) {
                let written = try await AgentTestSupport.waitUntil(timeout: 120) {
                    try await agent.store.headIfExists(key: key) != nil
                }
                #expect(written, "no manifest for the settled tag")
                // A tag the coordinator commands: the runner writes its manifest, not this path.
                let commanded = await SnapshotRunner(
                    node: agent.context, nodetool: node.nodetool, info: await node.nodetool.nodeInfo(),
                    logger: log.logger()
                ).execute(try Runner.command("cmd-1"))
                #expect(commanded.error == nil, "\(commanded.error ?? "")")
                try await Task.sleep(for: .seconds(4))
            }
            let announced = log.records(Self.outside)
            #expect(announced.count == 1, "\(announced.map(\.metadata))")
            #expect(announced.first?.metadata["snapshot.tag"] == "cron-1")
            #expect(try await agent.state.outboxCount(kind: .nodeSnapshots) == 1)

            // From the bucket alone: no cluster record, the node's manifest stands in.
            let repository = Repository(store: agent.store, keys: agent.keys)
            let record = try await repository.nodeSnapshot(tag: tag, hosts: [agent.host])
            #expect(record.nodes.map(\.status) == [.complete])
            let manifest = try await repository.nodeManifest(host: agent.host, tag: tag)
            #expect(manifest.origin == .node, "a prune must not take it for an orphan")
            #expect(try await repository.checkContents(of: manifest.allFiles, concurrency: 4).isEmpty)
            let target = root.appendingPathComponent("restore").path
            let plan = try RestorePlan(manifest: manifest, keys: agent.keys)
            let outcome = try await Restorer(repository: repository).restore([plan], into: target)
            #expect(outcome.failures.isEmpty, "\(outcome.failures)")
            // Every file of the snapshot on disk is restored with its bytes.
            let data = node.fixture.dataDirectories[0].path
            var compared = 0
            for entry in plan.entries where !entry.path.hasSuffix("/tokens.json") {
                let parts = entry.path.split(separator: "/").map(String.init)
                let onDisk =
                    ([data, parts[1], parts[2], "snapshots", "cron-1"] + parts[3...]).joined(separator: "/")
                #expect(
                    FileManager.default.contents(atPath: target + "/" + entry.path)
                        == FileManager.default.contents(atPath: onDisk), "\(entry.path)")
                compared += 1
            }
            let snapshotFiles = SnapshotRunner(
                node: agent.context, nodetool: node.nodetool, info: .init(), logger: log.logger()
            ).snapshotFiles(tag: "cron-1").files
            #expect(compared == snapshotFiles.count && compared > 0)
        }
    }

    /// An idle pass does not list a settled tag's files again while its directories stand as
    /// they were; a file added to the tag is seen all the same, by the directory's stamp.
    @Test func anUnchangedTagIsNotListedAgainAndAnAddedFileIsSeen() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Runner.node(root) { _ in }
            var configuration = node.configuration
            configuration.nodetool = node.nodetool.executable
            _ = try await node.nodetool.run(["snapshot", "-t", "cron-2"])
            let agent = try await Agent.build(
                configuration: configuration, once: true, logger: AgentTestSupport.logger)
            #expect(try await agent.runOnce().succeeded)
            let settled = SettledSnapshots(
                node: agent.context, tagFilter: configuration.snapshotTags, nodetool: node.nodetool,
                settle: .zero,
                logger: AgentTestSupport.logger)
            let directories = try #require(
                SettledSnapshots.tagDirectories(agent.context.dataDirectories)["cron-2"])
            #expect(directories.count == 2)
            // Directories changed an hour ago: their modification times are trusted.
            func age(by seconds: TimeInterval) {
                let then = Date().addingTimeInterval(-seconds).timeIntervalSince1970
                var times = [
                    timeval(tv_sec: Int(then), tv_usec: 0), timeval(tv_sec: Int(then), tv_usec: 0),
                ]
                for directory in directories { #expect(utimes(directory, &times) == 0) }
            }
            age(by: 3600)

            var seen: [String: SettledSnapshots.Seen] = [:]
            await settled.pass(&seen)  // first sight
            await settled.pass(&seen)  // settled: the manifest
            let key = agent.keys.key(for: .nodeManifest(host: agent.host, tag: try SnapshotTag("cron-2")))
            #expect(try await agent.store.headIfExists(key: key) != nil, "no manifest for the settled tag")
            let written = try #require(seen["cron-2"])
            await settled.pass(&seen)
            await settled.pass(&seen)
            #expect(seen["cron-2"]?.passesWithoutListing == 2, "an unchanged tag was listed again")
            #expect(seen["cron-2"]?.fingerprint == written.fingerprint)

            // A file lands in the tag; its directory is aged again, to another trusted time.
            let added = directories[0] + "/nb-999-big-Data.db"
            try Data("added".utf8).write(to: URL(fileURLWithPath: added))
            age(by: 1800)
            await settled.pass(&seen)
            #expect(seen["cron-2"]?.fingerprint != written.fingerprint, "the added file was not seen")
            #expect(seen["cron-2"]?.passesWithoutListing == 0)
        }
    }
}
