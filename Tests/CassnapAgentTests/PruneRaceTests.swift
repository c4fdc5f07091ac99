import CassnapAPI
import CassnapCore
import CassnapRepository
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// Issue 10's race: a prune sweeps objects that the agent's upload-once state still believes are
/// in the bucket. The next snapshot hard-links the same live files (same inodes), so without a
/// check its manifest would list objects that are gone (invariant 4). The runner checks the
/// manifest against the bucket before writing it and uploads what is missing.
@Suite struct PruneRaceTests {
    typealias Runner = SnapshotRunnerOpaqueTests

    @Test func aSnapshotAfterAPruneUploadsWhatThePruneSweptBeforeWritingItsManifest() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Runner.node(root) { _ in }
            let log = CapturedLog()
            // One agent throughout: a restart would reconcile with the bucket and hide the race.
            let agent = try await Agent.build(configuration: node.configuration, logger: log.logger())
            let runner = SnapshotRunner(
                node: agent.context, nodetool: node.nodetool, info: await node.nodetool.nodeInfo(),
                logger: log.logger())
            let repository = Repository(store: agent.store, keys: agent.keys)
            let (s1, s2) = try await AgentTestSupport.withRunningAgent(agent) {
                let first = await runner.execute(try Runner.command("s1"))
                #expect(first.error == nil, "\(first.error ?? "")")
                let s1 = try await Self.manifest(first, agent)
                #expect(try await repository.checkObjects(of: s1).isEmpty)

                // s1 expires and the prune sweeps its pool objects: no record names it any
                // more, so its manifest is an orphan and nothing is marked.
                let swept = try await repository.sweepPool(
                    expired: [s1.tag], hosts: [agent.host], grace: 0, now: Date().addingTimeInterval(60),
                    dryRun: false)
                #expect(swept.poolObjects > 0)
                let gone = try await repository.checkObjects(of: s1)
                #expect(gone.count >= swept.poolObjects, "the swept objects are missing from the bucket")

                // The same SSTables again: the agent believes every object is there.
                let second = await runner.execute(try Runner.command("s2"))
                #expect(second.error == nil, "\(second.error ?? "")")
                return (s1, try await Self.manifest(second, agent))
            }
            let shared = Set(s1.tables.flatMap { $0.sstables.flatMap(\.files).map(\.objectKey) })
                .intersection(s2.tables.flatMap { $0.sstables.flatMap(\.files).map(\.objectKey) })
            #expect(!shared.isEmpty, "the second snapshot lists the same pool objects as the first")
            let problems = try await repository.checkObjects(of: s2)
            #expect(problems.isEmpty, "\(problems.prefix(3))")
            let warning = try #require(
                log.records(
                    "Objects the agent had uploaded are not in the bucket (pruned or changed); uploading them again"
                ).first)
            #expect(warning.level == .warning)
            #expect(Int(warning.metadata["objects.count"] ?? "") ?? 0 >= shared.count)
            // Deep: the bytes are back.
            let deep = try await repository.checkContents(of: s2.allFiles, concurrency: 4)
            #expect(deep.isEmpty, "\(deep.prefix(3))")
        }
    }

    static func manifest(_ report: AgentAPI.ManifestReport, _ agent: Agent) async throws -> NodeManifest {
        let key = try #require(report.manifestKey)
        let data = try #require(try await Runner.read(key, from: agent.store))
        return try NodeManifest.decode(from: data)
    }
}
