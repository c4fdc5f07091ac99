import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

/// A pending snapshot's progress reaches the bucket's cluster record on the scheduler's tick,
/// not once per manifest report; a settled snapshot is written at once; and a record changed
/// before a crash is written by the next coordinator from `unmirroredRecords`.
@Suite("Cluster records in the bucket")
struct RecordMirrorTests {
    /// Ticks only when the coordinator starts: every other write is the one under test.
    static func rarelyTicking(_ dir: URL) -> CoordinatorConfiguration {
        var c = configuration(directory: dir)
        c.snapshots.schedulerIntervalSeconds = 3600
        return c
    }

    static func nodeStatuses(_ store: any ObjectStore, _ tag: String) async throws
        -> [String: ClusterSnapshotRecord.NodeStatus]
    {
        let keys = ObjectKeys(cluster: try ClusterName(clusterName))
        let record = try await readRecord(
            store, keys.key(for: .clusterSnapshotRecord(tag: try SnapshotTag(tag))))
        return Dictionary(uniqueKeysWithValues: (record?.nodes ?? []).map { ($0.hostname ?? "", $0.status) })
    }

    @Test func progressIsWrittenOnTheTickAndTheSettledRecordAtOnce() async throws {
        try await TemporaryDirectory.with { dir in
            let store = InMemoryObjectStore()
            try await InProcessCoordinator.running(Self.rarelyTicking(dir), store: store) { coordinator in
                let nodes = try await SimulatedNode.joined(2, to: coordinator, store: store)
                _ = try await coordinator.admin.createSnapshot(.init(delaySeconds: 1, tag: "coalesced"))
                #expect(
                    try await Self.nodeStatuses(store, "coalesced") == ["node1": .pending, "node2": .pending])

                try await nodes[0].takeSnapshot()
                await coordinator.snapshots.tick(now: Date())
                #expect(
                    try await Self.nodeStatuses(store, "coalesced") == [
                        "node1": .complete, "node2": .pending,
                    ])

                // The last manifest settles the snapshot: its record is written without a tick.
                try await nodes[1].takeSnapshot()
                let keys = ObjectKeys(cluster: try ClusterName(clusterName))
                let record = try await readRecord(
                    store, keys.key(for: .clusterSnapshotRecord(tag: try SnapshotTag("coalesced"))))
                #expect(record?.status == .complete)
                #expect(record?.nodes.allSatisfy { $0.status == .complete } == true)
            }
        }
    }

    @Test func aRestartWritesWhatTheLastCoordinatorDidNotMirror() async throws {
        try await TemporaryDirectory.with { dir in
            let store = InMemoryObjectStore()
            let configuration = Self.rarelyTicking(dir)
            try await InProcessCoordinator.running(configuration, store: store) { first in
                let nodes = try await SimulatedNode.joined(2, to: first, store: store)
                _ = try await first.admin.createSnapshot(.init(delaySeconds: 1, tag: "interrupted"))
                try await nodes[0].takeSnapshot()
                // Not yet in the bucket: the catalog alone knows node1 is complete.
                #expect(
                    try await Self.nodeStatuses(store, "interrupted") == [
                        "node1": .pending, "node2": .pending,
                    ])
            }

            try await InProcessCoordinator.running(configuration, store: store) { _ in
                try await eventually("the restarted coordinator to write the record") {
                    try await Self.nodeStatuses(store, "interrupted") == [
                        "node1": .complete, "node2": .pending,
                    ]
                }
            }
        }
    }
}
