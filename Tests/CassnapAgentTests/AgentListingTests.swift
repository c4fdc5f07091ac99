import CassnapCore
import CassnapObjectStore
import CassnapStoreFactory
import CassnapTestSupport
import Foundation
import GRDB
import Testing

@testable import CassnapAgent

/// The bucket-listing cache: refreshed page by page, it requeues what the bucket lost and never
/// forgets a key this agent wrote while the listing ran.
@Suite struct AgentListingTests {
    typealias S = AgentTestSupport

    static func agent(_ configuration: AgentConfiguration, store: any ObjectStore) throws -> Agent {
        Agent(
            configuration: configuration, state: try AgentState(directory: configuration.stateDirectory),
            store: store, host: S.host, keys: S.keys, once: true, queueCapacity: 4096, logger: S.logger)
    }

    @Test func objectsTheBucketLostGoBackToPendingAndShipAgain() async throws {
        try await TemporaryDirectory.with { root in
            let s = try AgentPipelineTests.setup(root)
            try s.nodetool.snapshot(tag: "first")
            let store = InMemoryObjectStore()
            #expect(try await Self.agent(s.configuration, store: store).runOnce().succeeded)
            let expected = S.expectedFiles(s.roots)
            let lost = Array(Set(expected.values).sorted().prefix(5))
            try await store.delete(keys: lost)

            let agent = try Self.agent(s.configuration, store: store)
            try await agent.refreshBucketListing()
            let pending = try await agent.state.paths(status: .pending)
            #expect(Set(pending.compactMap { expected[$0] }) == Set(lost))
            #expect(try await Self.agent(s.configuration, store: store).runOnce().succeeded)
            #expect(try await S.verify(expected, in: store).isEmpty)
        }
    }

    @Test func aKeyRecordedWhileTheListingRanIsNotForgotten() async throws {
        try await TemporaryDirectory.with { root in
            let s = try AgentPipelineTests.setup(root)
            try s.nodetool.snapshot(tag: "first")
            let base = InMemoryObjectStore()
            #expect(try await Self.agent(s.configuration, store: base).runOnce().succeeded)
            let state = try AgentState(directory: s.configuration.stateDirectory)
            let late =
                S.keys.nodeRoot(S.host) + "data/ks0/late-00000000000000000000000000000001/nb-1-big-Data.db"
            // The upload lands after the listing was read, and the agent records it, as the
            // shipper does after a PUT.
            let store = HookedStore(
                base,
                duringListing: {
                    _ = try await base.put(key: late, source: .bytes(Array("late".utf8)))
                    try await state.pool.write { db in
                        try db.execute(
                            sql:
                                "INSERT INTO bucket_objects (key, size, sha256, recorded_at) VALUES (?, 4, 'abc', ?)",
                            arguments: [late, Date().timeIntervalSince1970])
                    }
                })
            let agent = try Self.agent(s.configuration, store: store)
            try await agent.refreshBucketListing()
            let cached = try await state.pool.read { db in
                try String.fetchAll(db, sql: "SELECT key FROM bucket_objects")
            }
            let kept = cached.contains(late)
            #expect(kept, "forgotten, so a reused name could overwrite \(late)")
            // Everything the listing did show is cached too, and nothing went back to pending.
            #expect(Set(S.expectedFiles(s.roots).values).isSubset(of: Set(cached)))
            #expect(try await agent.state.paths(status: .pending).isEmpty)
        }
    }
}
