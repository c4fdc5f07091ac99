import CassnapAPI
import CassnapCore
import Foundation
import Testing

@testable import CassnapCoordinator

/// Opaque snapshot files (docs/FORMAT.md) as the coordinator sees them: listed with the
/// snapshot's files, and pool reports of SAI/SASI files accepted like components.
@Suite struct OpaqueFilesCatalogTests {
    static let keys = ObjectKeys(cluster: try! ClusterName("prod"))
    static let host = try! HostID("6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7")
    static let tag = try! SnapshotTag("nightly")
    static let users = try! TableRef(
        keyspace: "ks", table: "users", id: TableID("5a1c395e78ef11eebd8a8f5e2d8b3a63"))
    static let sha = try! SHA256Digest(hex: String(repeating: "ab", count: 32))

    static func poolKey(_ name: String) throws -> String {
        keys.primaryKey(
            for: try PooledFile(host: host, table: users, indexName: nil, opaque: OpaqueFileName(name)))
    }

    @Test func snapshotFilesListOpaqueFilesUnderTheirSSTable() throws {
        let legacy = try SnapshotOpaqueFile(
            host: Self.host, tag: Self.tag, table: Self.users, indexName: nil,
            file: OpaqueFileName("users.json"))
        let manifest = NodeManifest(
            cluster: Self.keys.cluster,
            node: .init(
                hostID: Self.host, hostname: "h", datacenter: "dc", rack: "r", tokens: ["0"],
                cassandraVersion: "5.0.2"),
            tag: Self.tag, takenAt: Date(), nodeFiles: [],
            tables: [
                .init(
                    keyspace: "ks", table: "users", tableID: Self.users.id, snapshotFiles: [], sstables: [],
                    opaqueFiles: [
                        .init(
                            fileName: "oa-1-big-SAI+aa+GroupComplete.db", size: 3, sha256: Self.sha,
                            objectKey: try Self.poolKey("oa-1-big-SAI+aa+GroupComplete.db")),
                        .init(
                            fileName: "users.json", size: 5, sha256: Self.sha,
                            objectKey: Self.keys.primaryKey(for: legacy)),
                    ])
            ])
        try manifest.validate()
        let files = SnapshotFile.files(of: manifest)
        #expect(files.map(\.fileName) == ["oa-1-big-SAI+aa+GroupComplete.db", "users.json"])
        #expect(files.map(\.sstable) == ["oa-1-big", ""])
        #expect(manifest.allFiles.count == 2)
    }

    @Test func poolReportsOfSAIAndSASIFilesPassAndOthersDoNot() throws {
        let validation = ReportValidation(keys: Self.keys, now: Date())
        func report(_ name: String, key: String) -> AgentAPI.Batch<AgentAPI.FileReport> {
            AgentAPI.Batch(
                reportID: "r-\(name)",
                items: [
                    AgentAPI.FileReport(
                        keyspace: "ks", table: "users", tableID: Self.users.id, indexName: nil,
                        fileName: name,
                        size: 1, sha256: Self.sha.hex, objectKey: key, uploadedAt: Date())
                ])
        }
        for name in ["oa-1-big-SAI+aa+age_idx+Meta.db", "me-2-big-SI_note_idx.db"] {
            try validation.check(report(name, key: try Self.poolKey(name)), host: Self.host)
        }
        // Not a pool file: 1.2's leveled manifest lives with its snapshot, and temporary files never ship.
        #expect(throws: (any Error).self) {
            try validation.check(
                report("users.json", key: try Self.poolKey("oa-1-big-SAI+aa+Meta.db")), host: Self.host)
        }
        #expect(throws: (any Error).self) {
            try validation.check(
                report("oa-1-big-SAI+aa+Meta.db", key: try Self.poolKey("oa-2-big-SAI+aa+Meta.db")),
                host: Self.host)
        }
    }
}
