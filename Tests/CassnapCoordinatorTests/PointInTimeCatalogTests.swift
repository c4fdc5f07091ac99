import CassnapAPI
import CassnapCoordinator
import CassnapCore
import Foundation
import Testing

/// What `restore --at T` is built on: the catalog's answer for "what was live on this node at
/// T", with compaction, a reused generation, a rewritten `Statistics.db`, a gap in the history
/// and an SSTable whose files never reached the bucket.
@Suite struct PointInTimeCatalogTests {
    let host = try! HostID("6f1c2a4e-0000-4000-8000-000000000001")
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    func sha(_ n: Int) -> String { String(repeating: String(n % 10), count: 64) }

    func file(_ name: String, key: String, sha n: Int, uploaded seconds: Double) -> AgentAPI.FileReport {
        AgentAPI.FileReport(
            keyspace: "ks", table: "t", tableID: nil, indexName: nil, fileName: name, size: Int64(100 + n),
            sha256: sha(n), objectKey: "c/nodes/\(host)/pool/ks/t/\(key)", uploadedAt: at(seconds))
    }

    func event(_ kind: AgentAPI.SSTableEvent.Kind, _ sstable: String, _ seconds: Double)
        -> AgentAPI.SSTableEvent
    {
        AgentAPI.SSTableEvent(
            kind: kind, keyspace: "ks", table: "t", tableID: nil, sstable: sstable, at: at(seconds))
    }

    func catalog() async throws -> SQLiteCatalog {
        let catalog = try SQLiteCatalog(cluster: ClusterName(clusterName))
        try await catalog.register(
            AgentAPI.Registration(
                hostID: host, hostname: "node1", cluster: clusterName, datacenter: "dc1", rack: "r1",
                tokens: ["42"], cassandraVersion: "4.1.3", dataDirectories: ["/var/lib/cassandra/data"],
                agentVersion: "test"),
            at: t0)
        #expect(
            try await catalog.heartbeat(
                host,
                AgentAPI.Heartbeat(
                    agentTime: at(100), queuedFiles: 0, oldestQueuedAge: nil, uploadedFiles: 0,
                    uploadedBytes: 0,
                    liveHistory: AgentAPI.LiveHistory(since: at(0), through: at(100))),
                at: at(100)))
        let events = [
            event(.appeared, "nb-1-big", 1), event(.appeared, "nb-2-big", 49),
            event(.disappeared, "nb-1-big", 50),
            // The generation comes back (a truncate, a wiped node): other bytes under the same names.
            event(.appeared, "nb-1-big", 60),
            // Removed before the agent uploaded it.
            event(.appeared, "nb-3-big", 80), event(.disappeared, "nb-3-big", 81),
        ]
        _ = try await catalog.recordSSTableEvents(
            host, AgentAPI.Batch(reportID: "e", items: events), at: at(90))
        let files = [
            file("nb-1-big-Data.db", key: "nb-1-big-Data.db", sha: 1, uploaded: 2),
            file("nb-1-big-TOC.txt", key: "nb-1-big-TOC.txt", sha: 2, uploaded: 2),
            file("nb-1-big-Statistics.db", key: "nb-1-big-Statistics.db", sha: 3, uploaded: 2),
            // Incremental repair rewrote Statistics.db.
            file("nb-1-big-Statistics.db", key: "nb-1-big-Statistics.db.x1", sha: 4, uploaded: 30),
            file("nb-2-big-Data.db", key: "nb-2-big-Data.db", sha: 5, uploaded: 49.5),
            file("nb-2-big-TOC.txt", key: "nb-2-big-TOC.txt", sha: 6, uploaded: 49.5),
            file("nb-1-big-Data.db", key: "nb-1-big-Data.db.x2", sha: 7, uploaded: 61),
            file("nb-1-big-TOC.txt", key: "nb-1-big-TOC.txt.x2", sha: 8, uploaded: 61),
        ]
        _ = try await catalog.recordFiles(host, AgentAPI.Batch(reportID: "f", items: files), at: at(90))
        return catalog
    }

    /// "nb-1-big-Data.db=<key suffix>" for each file of the answer.
    func files(_ catalog: SQLiteCatalog, _ seconds: Double) async throws -> Set<String> {
        let answer = try #require(try await catalog.pointInTimeManifest(host, at: at(seconds)))
        #expect(answer.manifest.node.tokens == ["42"])
        #expect(answer.manifest.tables.allSatisfy { $0.keyspace == "ks" && $0.table == "t" })
        return Set(
            answer.manifest.allFiles.map { "\($0.fileName)=\($0.objectKey.split(separator: "/").last!)" })
    }

    @Test func eachInstantGetsTheSSTablesAndTheObjectsOfItsOwnLifetime() async throws {
        let catalog = try await catalog()
        #expect(
            try await files(catalog, 20) == [
                "nb-1-big-Data.db=nb-1-big-Data.db", "nb-1-big-TOC.txt=nb-1-big-TOC.txt",
                "nb-1-big-Statistics.db=nb-1-big-Statistics.db",
            ])
        #expect(
            try await files(catalog, 40).contains("nb-1-big-Statistics.db=nb-1-big-Statistics.db.x1"),
            "the Statistics.db uploaded last before the instant")
        #expect(
            try await files(catalog, 55) == [
                "nb-2-big-Data.db=nb-2-big-Data.db", "nb-2-big-TOC.txt=nb-2-big-TOC.txt",
            ],
            "compacted away at 50")
        #expect(
            try await files(catalog, 70) == [
                "nb-1-big-Data.db=nb-1-big-Data.db.x2", "nb-1-big-TOC.txt=nb-1-big-TOC.txt.x2",
                "nb-2-big-Data.db=nb-2-big-Data.db", "nb-2-big-TOC.txt=nb-2-big-TOC.txt",
            ],
            "the reused generation's own objects, not the first life's")
    }

    @Test func anInstantOutsideTheHistoryOrWithAnSSTableNeverUploadedIsRefused() async throws {
        let catalog = try await catalog()
        await #expect {
            _ = try await catalog.pointInTimeManifest(host, at: at(150))
        } throws: { error in
            guard case PointInTimeError.notCovered(_, _, let stretches) = error else { return false }
            return stretches == [AgentAPI.LiveHistory(since: at(0), through: at(100))]
                && "\(error)".contains("does not cover")
        }
        await #expect {
            _ = try await catalog.pointInTimeManifest(host, at: at(80.5))
        } throws: { error in
            guard case PointInTimeError.incomplete(_, _, let sstables) = error else { return false }
            return sstables == ["ks.t nb-3-big lacks Data.db, TOC.txt"]
        }
        #expect(try await catalog.pointInTimeManifest(HostID(UUID().uuidString), at: at(20)) == nil)
    }
}
