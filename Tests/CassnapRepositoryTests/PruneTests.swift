import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import CassnapRepository
import CassnapTestSupport
import Foundation
import Testing

/// A small cluster history in an in-memory bucket: snapshots of one node that share SSTables,
/// with generations reused after a "rebuild" (collision keys), written as the agent writes them.
struct History {
    let store = InMemoryObjectStore()
    let keys = ObjectKeys(cluster: try! ClusterName("Test Cluster"))
    let host = try! HostID("6f1c2a4e-0000-4000-8000-000000000001")
    let table = try! TableRef(
        keyspace: "shop", table: "orders", id: TableID("5a1c395e-b41f-11e5-9f22-ba0be0483c18"))
    var repository: Repository { Repository(store: store, keys: keys) }

    /// Writes the pool objects of `sstables` (generation → content), the node manifest and, for
    /// a cluster snapshot, a complete cluster record for `tag`. A node snapshot (an operator's
    /// `nodetool snapshot` tag, `origin: node`) has no record.
    @discardableResult
    func snapshot(
        _ tag: String, at: Date, sstables: [Int: String], origin: NodeManifest.Origin = .cluster
    ) async throws -> ClusterSnapshotRecord {
        let tag = try SnapshotTag(tag)
        var list: [NodeManifest.SSTable] = []
        for (generation, content) in sstables.sorted(by: { $0.key < $1.key }) {
            let fileName = "nb-\(generation)-big-Data.db"
            let pooled = try PooledFile(
                host: host, table: table, indexName: nil, file: SSTableFileName.parse(fileName))
            var key = keys.primaryKey(for: pooled)
            let sha = Digest.sha256(Array(content.utf8)).hexString
            if let existing = try await store.headIfExists(key: key), existing.sha256 != sha {
                key = keys.collisionKey(for: pooled, sha256: try SHA256Digest(hex: sha))
            }
            let info = try await store.put(key: key, source: .string(content))
            list.append(
                NodeManifest.SSTable(
                    name: "nb-\(generation)-big",
                    files: [
                        NodeManifest.File(
                            fileName: fileName, size: info.size, sha256: try SHA256Digest(hex: sha),
                            objectKey: key)
                    ]))
        }
        let manifest = NodeManifest(
            cluster: keys.cluster,
            node: .init(
                hostID: host, hostname: "node1", datacenter: "dc1", rack: "r1", tokens: ["0"],
                cassandraVersion: "4.1.3"),
            tag: tag, takenAt: at, nodeFiles: [],
            tables: [
                .init(keyspace: "shop", table: "orders", tableID: table.id, snapshotFiles: [], sstables: list)
            ], origin: origin)
        let manifestKey = keys.key(for: .nodeManifest(host: host, tag: tag))
        _ = try await store.put(key: manifestKey, source: .bytes(Array(manifest.encoded())))
        let record = ClusterSnapshotRecord(
            id: SnapshotID(), cluster: keys.cluster, tag: tag, requestedAt: at, status: .complete,
            nodes: [
                .init(
                    hostID: host, hostname: "node1", status: .complete, takenAt: at, manifestKey: manifestKey)
            ])
        if origin == .cluster {
            _ = try await store.put(
                key: keys.key(for: .clusterSnapshotRecord(tag: tag)), source: .bytes(Array(record.encoded())))
        }
        return record
    }

    /// Deletes expired snapshots as `cassnap prune --store` does, then sweeps.
    func prune(_ policy: RetentionPolicy, now: Date, grace: TimeInterval = 0) async throws -> PruneReport {
        let records = try await repository.clusterSnapshots().records
        let expired = policy.expired(records, now: now)
        for record in expired {
            try await repository.deleteRecord(of: record)
            try await repository.deleteNodeSnapshots(tag: record.tag, hosts: [host])
        }
        var report = try await repository.sweepPool(
            expired: Set(expired.map(\.tag)), hosts: [host], grace: grace, now: now, dryRun: false)
        report.expiredSnapshots = expired
        return report
    }
}

@Suite("Prune")
struct PruneTests {
    let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func retentionKeepsTheNewestCompleteTheRecentTheTaggedAndThePending() throws {
        func record(_ tag: String, _ days: Double, _ status: ClusterSnapshotRecord.Status) throws
            -> ClusterSnapshotRecord
        {
            ClusterSnapshotRecord(
                id: SnapshotID(), cluster: try ClusterName("c"), tag: try SnapshotTag(tag),
                requestedAt: t0.addingTimeInterval(days * 86_400), status: status, nodes: [])
        }
        let records = try [
            record("a", 0, .complete), record("b", 1, .partial), record("keep-me", 2, .complete),
            record("c", 3, .complete), record("d", 4, .pending), record("e", 5, .complete),
            record("f", 6, .complete),
        ]
        let now = t0.addingTimeInterval(6.5 * 86_400)
        let policy = RetentionPolicy(
            keepLast: 2, keepWithin: 2 * 86_400, keepTags: [try GlobPattern("keep-*")])
        #expect(policy.expired(records, now: now).map(\.tag.rawValue) == ["a", "b", "c"])
        #expect(RetentionPolicy().expired(records, now: now).isEmpty, "no rule, nothing expires")
        #expect(RetentionPolicy(keepLast: 0).expired(records, now: now).count == 6, "pending stays")
    }

    @Test func aPruneDeletesOnlyWhatNoRetainedSnapshotReferencesAndSparesTheYoung() async throws {
        let history = History()
        _ = try await history.snapshot("one", at: t0, sstables: [1: "alpha", 2: "beta"])
        _ = try await history.snapshot(
            "two", at: t0.addingTimeInterval(3600), sstables: [2: "beta", 3: "gamma"])
        // Object ages come from the store's clock (now), not from the snapshots' instants.
        let later = Date().addingTimeInterval(3600)
        // Dry run first: nothing goes.
        let before = try await history.store.list(prefix: "").count
        let dry = try await history.repository.sweepPool(
            expired: [try SnapshotTag("one")], hosts: [history.host], grace: 0, now: later, dryRun: true)
        #expect(dry.poolObjects == 1)
        #expect(try await history.store.list(prefix: "").count == before)

        // A fresh object nobody references yet (an upload in flight) is spared by the grace period.
        try await Task.sleep(for: .milliseconds(1500))
        let inflight = try history.keys.primaryKey(
            for: PooledFile(
                host: history.host, table: history.table, indexName: nil,
                file: SSTableFileName.parse("nb-9-big-Data.db")))
        _ = try await history.store.put(key: inflight, source: .string("in flight"))
        let report = try await history.prune(RetentionPolicy(keepLast: 1), now: Date(), grace: 1)
        #expect(report.expiredSnapshots.map(\.tag.rawValue) == ["one"])
        #expect(report.poolObjects == 1, "only nb-1 (alpha) is unreferenced")
        #expect(report.sparedYoung == 1)
        let left = Set(try await history.store.list(prefix: "").map(\.key))
        #expect(left.contains(inflight))
        #expect(!left.contains { $0.hasSuffix("nb-1-big-Data.db") })
        #expect(try await history.repository.clusterSnapshots().records.map(\.tag.rawValue) == ["two"])
        let two = try await history.repository.clusterSnapshot("two")
        #expect(try await history.repository.verify(two, deep: true).completeNodesAreRestorable)
    }

    /// A node snapshot (an operator's tag, `origin: node`) has no cluster record by design: prune
    /// keeps its manifest and every object it lists, while a cluster snapshot's manifest left
    /// without its record (an interrupted delete) is an orphan and goes.
    @Test func aNodeSnapshotIsKeptWhileAnOrphanManifestGoes() async throws {
        let history = History()
        try await history.snapshot("one", at: t0, sstables: [1: "alpha", 2: "beta"])
        try await history.snapshot("nightly", at: t0, sstables: [2: "beta", 3: "gamma"], origin: .node)
        try await history.snapshot("two", at: t0, sstables: [4: "delta"])
        // "two" was being deleted when the process died: its record is gone, its manifest not.
        try await history.repository.deleteRecord(
            of: try #require(
                try await history.repository.clusterSnapshots().records.first { $0.tag.rawValue == "two" }))

        let report = try await history.prune(RetentionPolicy(keepLast: 0), now: Date().addingTimeInterval(60))
        #expect(report.expiredSnapshots.map(\.tag.rawValue) == ["one"])
        #expect(report.nodeSnapshots == 1)
        #expect(report.orphanManifests == 1)
        // alpha (only "one") and delta (only the orphan) go; beta and gamma stay for "nightly".
        #expect(report.poolObjects == 2)
        #expect(report.poolBytes == Int64("alpha".utf8.count + "delta".utf8.count))
        let nightly = try await history.repository.nodeSnapshot(
            tag: try SnapshotTag("nightly"), hosts: [history.host])
        #expect(try await history.repository.verify(nightly, deep: true).completeNodesAreRestorable)
        let left = try await history.store.list(prefix: "").map(\.key).filter { $0.contains("/snapshots/") }
        #expect(left.count == 1 && left[0].hasSuffix("/nightly/manifest.json"), "\(left)")
    }

    /// Random histories of snapshots, shared files, reused generations (collision keys) and
    /// prunes: after every prune, no object a retained manifest lists is gone, and every
    /// retained snapshot passes a deep verify. Seeded, 25 histories of up to 12 steps.
    @Test(arguments: 0..<25)
    func aReferencedObjectIsNeverDeleted(seed: Int) async throws {
        var random = SeededGenerator(seed: UInt64(seed) &* 0x9E37_79B9 &+ 1)
        let history = History()
        var live: [Int: String] = [:]
        var generation = 0
        var clock = t0
        var nodeSnapshots: [SnapshotTag] = []
        for step in 0..<12 {
            clock = clock.addingTimeInterval(3600)
            switch random.next() % 4 {
            case 0, 1:
                // Flush or compaction: new SSTables, some old ones go.
                for _ in 0..<Int(random.next() % 3 + 1) {
                    generation += 1
                    live[generation] = "data \(generation) \(random.next() % 1000)"
                }
                for key in live.keys.sorted() where random.next() % 3 == 0 { live[key] = nil }
            case 2:
                // The node is rebuilt: generations restart with other bytes.
                generation = 0
                live = [:]
                for _ in 0..<2 {
                    generation += 1
                    live[generation] = "rebuilt \(step) \(generation)"
                }
            default: break
            }
            // Now and then an operator's own tag instead: no record, kept by every prune.
            let origin: NodeManifest.Origin = random.next() % 4 == 0 ? .node : .cluster
            try await history.snapshot("s\(step)", at: clock, sstables: live, origin: origin)
            if origin == .node { nodeSnapshots.append(try SnapshotTag("s\(step)")) }
            if random.next() % 3 == 0 {
                let policy = RetentionPolicy(keepLast: Int(random.next() % 3))
                // Every object is older than the grace period: the sweep must be exact.
                _ = try await history.prune(policy, now: Date().addingTimeInterval(60), grace: 0)
                var referenced: Set<String> = []
                for record in try await history.repository.clusterSnapshots().records {
                    let result = try await history.repository.verify(record, deep: true)
                    #expect(
                        result.completeNodesAreRestorable,
                        "seed \(seed) step \(step): \(record.tag) lost objects")
                    let manifest = try await history.repository.nodeManifest(
                        host: history.host, tag: record.tag)
                    referenced.formUnion(manifest.allFiles.map(\.objectKey))
                }
                for tag in nodeSnapshots {
                    let record = try await history.repository.nodeSnapshot(tag: tag, hosts: [history.host])
                    #expect(
                        try await history.repository.verify(record, deep: true).completeNodesAreRestorable,
                        "seed \(seed) step \(step): node snapshot \(tag) lost objects")
                    let manifest = try await history.repository.nodeManifest(host: history.host, tag: tag)
                    referenced.formUnion(manifest.allFiles.map(\.objectKey))
                }
                let pool = Set(
                    try await history.store.list(prefix: history.keys.nodeRoot(history.host) + "data/").map(
                        \.key))
                #expect(
                    pool == referenced, "seed \(seed) step \(step): the pool holds exactly what is referenced"
                )
            }
        }
    }
}
