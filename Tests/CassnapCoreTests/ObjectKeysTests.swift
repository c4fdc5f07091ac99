import Testing

@testable import CassnapCore

@Suite("Object keys")
struct ObjectKeysTests {
    static let keys = Examples.keys
    static let host = Examples.host
    static let tag = Examples.tag
    static let orders = Examples.orders
    static let root = "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/"
    static let tableDir = "shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63"
    static let legacyTable = try! TableRef(keyspace: "ks1", table: "users", id: nil)
    static let sha = try! SHA256Digest(
        hex: "7b36eb9460953f7adaee6e59192d9a466b662a59807113ba71039e93b167d5f5")

    static let layoutCases: [(ObjectKey, String)] = [
        (.pooledFile(Examples.pooled("nb-42-big-Data.db")), root + "data/\(tableDir)/nb-42-big-Data.db"),
        (
            .pooledFile(Examples.pooled("nb-7-big-Index.db", index: "orders_by_customer")),
            root + "data/\(tableDir)/.orders_by_customer/nb-7-big-Index.db"
        ),
        (
            .pooledFile(Examples.pooled("nb-7-big-Data.db").withCollisionSuffix(for: sha)),
            root + "data/\(tableDir)/nb-7-big-Data.db~sha256-7b36eb9460953f7a"
        ),
        (
            .pooledFile(
                try! PooledFile(
                    host: host, table: legacyTable, indexName: nil,
                    file: SSTableFileName.parse("ks1-users-jb-12-Data.db"))),
            root + "data/ks1/users/ks1-users-jb-12-Data.db"
        ),
        (
            .pooledFile(Examples.pooled("da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti-Partitions.db")),
            root + "data/\(tableDir)/da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti-Partitions.db"
        ),
        (.nodeManifest(host: host, tag: tag), root + "snapshots/nightly-2024-05-01/manifest.json"),
        (.nodeSchema(host: host, tag: tag), root + "snapshots/nightly-2024-05-01/schema.cql"),
        (.nodeTokens(host: host, tag: tag), root + "snapshots/nightly-2024-05-01/tokens.json"),
        (
            .tableSnapshotFile(host: host, tag: tag, table: orders, file: .schema),
            root + "snapshots/nightly-2024-05-01/\(tableDir)/schema.cql"
        ),
        (
            .tableSnapshotFile(host: host, tag: tag, table: orders, file: .manifest),
            root + "snapshots/nightly-2024-05-01/\(tableDir)/manifest.json"
        ),
        (.clusterSnapshotRecord(tag: tag), "prod-eu/snapshots/nightly-2024-05-01.json"),
        (.clusterSnapshotRecord(tag: try! SnapshotTag("x.json")), "prod-eu/snapshots/x.json.json"),
    ]

    @Test(arguments: 0..<layoutCases.count)
    func keysFollowTheLayoutAndRoundTrip(index: Int) throws {
        let (object, key) = Self.layoutCases[index]
        #expect(Self.keys.key(for: object) == key)
        #expect(try Self.keys.parse(key) == object)
    }

    /// Keys are relative to the store URL, which carries any prefix: a key starts with the
    /// cluster's name.
    @Test func keysStartAtTheCluster() throws {
        let keys = ObjectKeys(cluster: try ClusterName("Test Cluster"))
        let key = keys.key(for: .nodeManifest(host: Self.host, tag: Self.tag))
        #expect(key == "Test Cluster/nodes/\(Self.host)/snapshots/nightly-2024-05-01/manifest.json")
        #expect(try keys.parse(key) == .nodeManifest(host: Self.host, tag: Self.tag))
        #expect(keys.nodeRoot(Self.host) == "Test Cluster/nodes/\(Self.host)/")
        #expect(keys.clusterSnapshotsRoot == "Test Cluster/snapshots/")
        #expect(throws: ObjectKeyError.self) { try keys.parse("backups/" + key) }
    }

    @Test func collisionKeysAreDistinctAndDerivedFromContent() throws {
        let file = Examples.pooled("nb-1-big-Data.db")
        let first = try SHA256Digest(hex: String(repeating: "a", count: 64))
        let second = try SHA256Digest(hex: String(repeating: "b", count: 64))
        let primary = Self.keys.primaryKey(for: file)
        let collisionA = Self.keys.collisionKey(for: file, sha256: first)
        let collisionB = Self.keys.collisionKey(for: file, sha256: second)
        #expect(Set([primary, collisionA, collisionB]).count == 3)
        #expect(collisionA == primary + "~sha256-aaaaaaaaaaaaaaaa")
        #expect(Self.keys.collisionKey(for: file, sha256: first) == collisionA)
        // The collision key of a collision key is still derived from the primary name.
        guard case .pooledFile(let parsed) = try Self.keys.parse(collisionA) else {
            Issue.record("collision key did not parse as a pool file")
            return
        }
        #expect(parsed.fileName == "nb-1-big-Data.db")
        #expect(parsed.collisionSuffix == "aaaaaaaaaaaaaaaa")
        #expect(Self.keys.primaryKey(for: parsed) == primary)
        #expect(Self.keys.collisionKey(for: parsed, sha256: second) == collisionB)
    }

    /// Invariant 2: a live file, its snapshot link and its backups link share one pool key.
    @Test func linksOfOneFileShareAPoolKey() throws {
        let paths = [
            "\(Self.tableDir)/nb-5-big-Data.db", "\(Self.tableDir)/snapshots/a/nb-5-big-Data.db",
            "\(Self.tableDir)/snapshots/b/nb-5-big-Data.db", "\(Self.tableDir)/backups/nb-5-big-Data.db",
        ]
        let keys = try paths.map { path in
            Self.keys.primaryKey(
                for: try PooledFile(
                    host: Self.host, path: try DataPath.classify(relativePath: path, isDirectory: false)))
        }
        #expect(Set(keys) == [Self.root + "data/\(Self.tableDir)/nb-5-big-Data.db"])
        let index = try DataPath.classify(
            relativePath: "\(Self.tableDir)/snapshots/a/.by_customer/nb-5-big-Data.db", isDirectory: false)
        #expect(
            Self.keys.primaryKey(for: try PooledFile(host: Self.host, path: index))
                == Self.root + "data/\(Self.tableDir)/.by_customer/nb-5-big-Data.db")
    }

    @Test func temporaryFilesHaveNoPoolKey() throws {
        let file = try SSTableFileName.parse("tmp-la-1-big-Data.db")
        #expect(throws: ValidationError.self) {
            try PooledFile(host: Self.host, table: Self.orders, indexName: nil, file: file)
        }
        #expect(throws: ValidationError.self) {
            try PooledFile(
                host: Self.host, table: Self.orders, indexName: "bad-index",
                file: SSTableFileName.parse("la-1-big-Data.db"))
        }
    }

    @Test(arguments: [
        "\(tableDir)/snapshots/a/manifest.json", "\(tableDir)/nb_txn_flush_1.log", "\(tableDir)", "shop",
    ])
    func onlySSTableFilesArePooled(path: String) throws {
        let classified = try DataPath.classify(relativePath: path, isDirectory: false)
        #expect(throws: ObjectKeyError.self) { try PooledFile(host: Self.host, path: classified) }
    }

    static let badKeys: [(String, String)] = [
        ("", "empty"),
        ("/prod-eu/snapshots/x.json", "absolute"),
        ("prod-eu/snapshots/../../../etc/passwd", "\"..\" segment"),
        ("prod-eu/nodes/./x", "\".\" segment"),
        ("cassnap//prod-eu/snapshots/x.json", "empty segment"),
        ("prod-eu/snapshots/", "empty segment"),
        ("prod-eu/snapshots/x\0.json", "NUL"),
        ("prod-eu/snapshots/x\\..\\y.json", "\"\\\""),
        ("prod-eu/snapshots/x\n.json", "control"),
        ("prod-eu/" + String(repeating: "k", count: 1100), "1024 bytes"),
        ("cassnap/other/snapshots/x.json", "not under \"prod-eu/\""),
        ("prod-eu/snapshots/x.txt", "end in \".json\""),
        ("prod-eu/snapshots/a/b.json", "expected nodes/"),
        ("prod-eu/nodes/6F1C2A4E-0C3B-4C1E-9D27-3A5B8E2F41C7/snapshots/t/manifest.json", "lowercase"),
        ("prod-eu/nodes/not-a-uuid/snapshots/t/manifest.json", "invalid host ID"),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/snapshots/t/other.json",
            "expected snapshots/<tag>"
        ),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/misc/a/b/c",
            "\"data\" or \"snapshots\""
        ),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63/notes.txt",
            "not an SSTable"
        ),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63/nb-1-big-Data.db~sha256-xyz",
            "not an SSTable"
        ),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63/tmp-la-1-big-Data.db",
            "not an SSTable"
        ),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/shop/orders-XYZ/nb-1-big-Data.db",
            "table directory"
        ),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/sh-op/orders/nb-1-big-Data.db",
            "keyspace name"
        ),
        (
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/shop/orders/idx/nb-1-big-Data.db",
            "starts with \".\""
        ),
    ]

    @Test(arguments: 0..<badKeys.count)
    func badKeysAreRefusedWithTheReason(index: Int) {
        let (key, reason) = Self.badKeys[index]
        #expect {
            try Self.keys.parse(key)
        } throws: { error in
            guard let error = error as? ObjectKeyError else { return false }
            return error.description.contains(reason) && error.description.contains(key.quotedForMessage)
        }
    }

    @Test(arguments: [
        ("../../etc/passwd", false), ("/etc/passwd", false), ("a/../b", false), ("a//b", false),
        ("a/", false),
        ("./a", false), ("a\0b", false), ("a\\b", false), ("", false), ("..", false),
        ("shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63/nb-1-big-Data.db", true), ("a/.hidden/b", true),
        ("a/..b/c", true), ("Test Cluster/x", true),
    ])
    func restorePathsCannotEscape(path: String, allowed: Bool) throws {
        if allowed {
            #expect(try RestorePath.join(directory: "/restore", relativePath: path) == "/restore/" + path)
            #expect(try RestorePath.join(directory: "/restore/", relativePath: path) == "/restore/" + path)
        } else {
            #expect(throws: ObjectKeyError.self) {
                try RestorePath.join(directory: "/restore", relativePath: path)
            }
        }
    }

    @Test(arguments: ["nb-1-big-Data.db", "schema.cql"])
    func restoreFileNamesAreSingleSegments(name: String) throws {
        try RestorePath.validate(fileName: name)
        #expect(throws: ObjectKeyError.self) { try RestorePath.validate(fileName: "x/" + name) }
        #expect(throws: ObjectKeyError.self) { try RestorePath.validate(fileName: "..") }
    }

    @Test(arguments: ["", "..", "a/b", " padded", "padded ", "tab\there", "nul\0"])
    func badClusterNamesAreRefused(name: String) {
        #expect {
            try ClusterName(name)
        } throws: { error in
            (error as? ValidationError)?.field == .clusterName
        }
    }

    @Test func identifiersAreCanonical() throws {
        #expect(
            try HostID("6F1C2A4E-0C3B-4C1E-9D27-3A5B8E2F41C7").description
                == "6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7")
        #expect(throws: ValidationError.self) {
            try HostID(canonical: "6F1C2A4E-0C3B-4C1E-9D27-3A5B8E2F41C7")
        }
        #expect(throws: ValidationError.self) { try HostID("node-1") }
        let id = try TableID("5a1c395e78ef11eebd8a8f5e2d8b3a63")
        #expect(id == (try TableID("5a1c395e-78ef-11ee-bd8a-8f5e2d8b3a63")))
        #expect(id.directoryForm == "5a1c395e78ef11eebd8a8f5e2d8b3a63")
        #expect(throws: ValidationError.self) { try TableID("5A1C395E78EF11EEBD8A8F5E2D8B3A63") }
        #expect(throws: ValidationError.self) { try TableID("5a1c395e78ef11eebd8a8f5e2d8b3a6") }
        #expect(try TableDirectory(parsing: "orders-5a1c395e78ef11eebd8a8f5e2d8b3a63").id == id)
        #expect(try TableDirectory(parsing: "orders").id == nil)
        #expect(throws: ValidationError.self) {
            try TableDirectory(parsing: "ord-ers-5a1c395e78ef11eebd8a8f5e2d8b3a63")
        }
        #expect(
            try SHA256Digest(bytes: [0x00, 0xff, 0x10] + Array(repeating: 0xab, count: 29)).hex.hasPrefix(
                "00ff10abab"))
        #expect(throws: ValidationError.self) { try SHA256Digest(bytes: [1, 2, 3]) }
        #expect(throws: ValidationError.self) { try SHA256Digest(hex: String(repeating: "A", count: 64)) }
    }
}
