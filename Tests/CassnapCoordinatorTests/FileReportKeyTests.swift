import CassnapAPI
import CassnapCore
import Foundation
import Testing

@testable import CassnapCoordinator

/// A file report's object key must be the reporting node's pool key for exactly that file,
/// whether it is the primary key (checked by building it) or another form (parsed).
@Suite("File report object keys")
struct FileReportKeyTests {
    static let keys = ObjectKeys(cluster: try! ClusterName("Test Cluster"))
    static let host = try! HostID("6f1c2a4e-0000-4000-8000-000000000001")
    static let other = try! HostID("6f1c2a4e-0000-4000-8000-000000000002")
    static let tableID = try! TableID("5a1c395e-b41f-11e5-9f22-ba0be0483c18")
    static let otherTableID = try! TableID("7b2d4a6f-b41f-11e5-9f22-ba0be0483c18")
    static let sha = try! SHA256Digest(hex: String(repeating: "7", count: 64))

    static func pooled(host: HostID = host, tableID: TableID = tableID, file: String = "nb-1-big-Data.db")
        throws -> PooledFile
    {
        try PooledFile(
            host: host, table: TableRef(keyspace: "shop", table: "orders", id: tableID), indexName: nil,
            file: SSTableFileName.parse(file))
    }

    static func check(_ key: String, tableID: TableID? = tableID) throws {
        let item = AgentAPI.FileReport(
            keyspace: "shop", table: "orders", tableID: tableID, indexName: nil, fileName: "nb-1-big-Data.db",
            size: 1, sha256: sha.hex, objectKey: key, uploadedAt: Date())
        try ReportValidation(keys: keys, now: Date()).check(
            AgentAPI.Batch(reportID: "r", items: [item]), host: host)
    }

    @Test func thePrimaryAndTheCollisionKeyOfTheFileAreAccepted() throws {
        try Self.check(Self.keys.primaryKey(for: Self.pooled()))
        try Self.check(Self.keys.collisionKey(for: Self.pooled(), sha256: Self.sha))
        try Self.check(Self.keys.primaryKey(for: Self.pooled()), tableID: nil)
    }

    @Test(arguments: [
        ("another node's", try! keys.primaryKey(for: pooled(host: other))),
        ("another table id's", try! keys.primaryKey(for: pooled(tableID: otherTableID))),
        ("another file's", try! keys.primaryKey(for: pooled(file: "nb-2-big-Data.db"))),
        ("another node's collision", try! keys.collisionKey(for: pooled(host: other), sha256: sha)),
        ("an escaping", "Test Cluster/nodes/\(host)/data/shop/../../../etc/passwd"),
    ])
    func anyOtherKeyIsRefused(_ what: String, _ key: String) throws {
        #expect(throws: APIError.self, "\(what) key") { try Self.check(key) }
    }
}
