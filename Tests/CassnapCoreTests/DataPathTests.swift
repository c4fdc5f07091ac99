import Testing

@testable import CassnapCore

@Suite("Data directory paths")
struct DataPathTests {
    static let id = "5a1c395e78ef11eebd8a8f5e2d8b3a63"
    static let t = "shop/orders-\(id)"

    /// A compact, readable rendering of everything classification decided.
    static func summary(_ path: DataPath) -> String {
        var parts: [String] = []
        if let keyspace = path.keyspace { parts.append("ks=\(keyspace)") }
        if let table = path.table {
            parts.append("table=\(table.table)")
            parts.append("id=\(table.id.map { String($0.directoryForm.prefix(4)) } ?? "none")")
        }
        switch path.location {
        case .live: parts.append("live")
        case .backups: parts.append("backups")
        case .snapshot(let tag): parts.append("snapshot(\(tag))")
        case nil: break
        }
        if let index = path.indexName { parts.append("index=\(index)") }
        switch path.kind {
        case .dataDirectory: parts.append("dir:data")
        case .keyspaceDirectory: parts.append("dir:keyspace")
        case .tableDirectory: parts.append("dir:table")
        case .snapshotsDirectory: parts.append("dir:snapshots")
        case .snapshotDirectory: parts.append("dir:snapshot")
        case .backupsDirectory: parts.append("dir:backups")
        case .indexDirectory: parts.append("dir:index")
        case .sstableComponent(let file): parts.append("sstable:\(file.fileName)")
        case .snapshotMetadata(let file): parts.append("metadata:\(file.rawValue)")
        case .opaqueSnapshotFile(let file):
            parts.append("opaque:\(file.name)" + (file.sstableName.map { " of:\($0)" } ?? ""))
        case .ignored(.transactionLog): parts.append("ignored:txn")
        case .ignored(.temporary): parts.append("ignored:tmp")
        case .ignored(.unrecognized): parts.append("ignored:unknown")
        }
        return parts.joined(separator: " ")
    }

    static let cases: [(String, Bool, String)] = [
        ("", true, "dir:data"),
        ("shop", true, "ks=shop dir:keyspace"),
        (t, true, "ks=shop table=orders id=5a1c dir:table"),
        ("\(t)/nb-42-big-Data.db", false, "ks=shop table=orders id=5a1c live sstable:nb-42-big-Data.db"),
        ("\(t)/da-1-bti-Rows.db", false, "ks=shop table=orders id=5a1c live sstable:da-1-bti-Rows.db"),
        (
            "\(t)/.orders_by_customer", true,
            "ks=shop table=orders id=5a1c live index=orders_by_customer dir:index"
        ),
        (
            "\(t)/.orders_by_customer/nb-7-big-Index.db", false,
            "ks=shop table=orders id=5a1c live index=orders_by_customer sstable:nb-7-big-Index.db"
        ),
        ("\(t)/snapshots", true, "ks=shop table=orders id=5a1c dir:snapshots"),
        ("\(t)/snapshots/nightly", true, "ks=shop table=orders id=5a1c snapshot(nightly) dir:snapshot"),
        (
            "\(t)/snapshots/nightly/nb-42-big-Data.db", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) sstable:nb-42-big-Data.db"
        ),
        (
            "\(t)/snapshots/nightly/manifest.json", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) metadata:manifest.json"
        ),
        (
            "\(t)/snapshots/nightly/schema.cql", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) metadata:schema.cql"
        ),
        (
            "\(t)/snapshots/nightly/.orders_by_customer", true,
            "ks=shop table=orders id=5a1c snapshot(nightly) index=orders_by_customer dir:index"
        ),
        (
            "\(t)/snapshots/nightly/.orders_by_customer/nb-7-big-Data.db", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) index=orders_by_customer sstable:nb-7-big-Data.db"
        ),
        (
            "\(t)/snapshots/truncated-1714528800000-orders/nb-1-big-TOC.txt", false,
            "ks=shop table=orders id=5a1c snapshot(truncated-1714528800000-orders) sstable:nb-1-big-TOC.txt"
        ),
        ("\(t)/backups", true, "ks=shop table=orders id=5a1c backups dir:backups"),
        (
            "\(t)/backups/nb-43-big-Data.db", false,
            "ks=shop table=orders id=5a1c backups sstable:nb-43-big-Data.db"
        ),
        (
            "\(t)/backups/.orders_by_customer", true,
            "ks=shop table=orders id=5a1c backups index=orders_by_customer dir:index"
        ),
        (
            "\(t)/backups/.orders_by_customer/nb-8-big-Filter.db", false,
            "ks=shop table=orders id=5a1c backups index=orders_by_customer sstable:nb-8-big-Filter.db"
        ),
        // Never shipped.
        (
            "\(t)/nb_txn_compaction_8e8a9b60-2d0d-11ef-9a7d-5d4c1f0e6a21.log", false,
            "ks=shop table=orders id=5a1c live ignored:txn"
        ),
        ("\(t)/tmp-la-2-big-Data.db", false, "ks=shop table=orders id=5a1c live ignored:tmp"),
        ("\(t)/tmplink-la-2-big-Data.db", false, "ks=shop table=orders id=5a1c live ignored:tmp"),
        ("\(t)/nb-42-big-Data.db.tmp", false, "ks=shop table=orders id=5a1c live ignored:tmp"),
        (
            "\(t)/snapshots/nightly/schema.cql.tmp", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) ignored:tmp"
        ),
        // Everything else in a snapshot ships as an opaque file; the same names elsewhere do not.
        (
            "\(t)/snapshots/nightly/nb-1-big-SAI+aa+GroupComplete.db", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) opaque:nb-1-big-SAI+aa+GroupComplete.db of:nb-1-big"
        ),
        (
            "\(t)/snapshots/nightly/da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti-SAI+aa+age_idx+Meta.db", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) "
                + "opaque:da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti-SAI+aa+age_idx+Meta.db of:da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti"
        ),
        (
            "\(t)/snapshots/nightly/mc-4-big-SI_age_idx.db", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) opaque:mc-4-big-SI_age_idx.db of:mc-4-big"
        ),
        (
            "ks1/events/snapshots/n/events.json", false,
            "ks=ks1 table=events id=none snapshot(n) opaque:events.json"
        ),
        (
            "\(t)/snapshots/nightly/.idx/notes.txt", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) index=idx opaque:notes.txt"
        ),
        (
            "\(t)/snapshots/nightly/nb-42-big-Foo.db", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) opaque:nb-42-big-Foo.db of:nb-42-big"
        ),
        (
            "\(t)/snapshots/nightly/tmp-nb-1-big-SAI+aa+Meta.db", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) ignored:tmp"
        ),
        (
            "\(t)/snapshots/nightly/nb_txn_flush_0.log", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) ignored:txn"
        ),
        (
            "\(t)/snapshots/nightly/a\u{07}b", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) ignored:unknown"
        ),
        ("ks1/events/events.json", false, "ks=ks1 table=events id=none live ignored:unknown"),
        (
            "\(t)/backups/nb-1-big-SAI+aa+Meta.db", false,
            "ks=shop table=orders id=5a1c backups ignored:unknown"
        ),
        ("\(t)/manifest.json", false, "ks=shop table=orders id=5a1c live ignored:unknown"),
        ("\(t)/backups/schema.cql", false, "ks=shop table=orders id=5a1c backups ignored:unknown"),
        ("\(t)/nb-42-big-Foo.db", false, "ks=shop table=orders id=5a1c live ignored:unknown"),
        ("\(t)/.nfs000000001", false, "ks=shop table=orders id=5a1c live ignored:unknown"),
        ("\(t)/lost+found", true, "ks=shop table=orders id=5a1c live ignored:unknown"),
        ("\(t)/.idx/sub", true, "ks=shop table=orders id=5a1c live index=idx ignored:unknown"),
        ("\(t)/.idx/a/b", false, "ks=shop table=orders id=5a1c live index=idx ignored:unknown"),
        (
            "\(t)/snapshots/nightly/extra/x", false,
            "ks=shop table=orders id=5a1c snapshot(nightly) ignored:unknown"
        ),
        ("\(t)/snapshots/README", false, "ks=shop table=orders id=5a1c ignored:unknown"),
        ("\(t)/snapshots/bad\u{07}tag", true, "ks=shop table=orders id=5a1c ignored:unknown"),
        ("shop/README", false, "ks=shop ignored:unknown"),
        ("shop/orders-xyz", true, "ks=shop ignored:unknown"),
        ("shop/orders-\(id.uppercased())", true, "ks=shop ignored:unknown"),
        ("lost+found", true, "ignored:unknown"),
        ("shop", false, "ks=shop ignored:unknown"),
        // Legacy layouts: pre-2.1 table directories carry no id; pre-2.2 index SSTables sit beside the table's.
        ("ks1/users", true, "ks=ks1 table=users id=none dir:table"),
        (
            "ks1/users/ks1-users-hf-3-Data.db", false,
            "ks=ks1 table=users id=none live sstable:ks1-users-hf-3-Data.db"
        ),
        (
            "ks1/users/snapshots/1714528800000/ks1-users-jb-12-Data.db", false,
            "ks=ks1 table=users id=none snapshot(1714528800000) sstable:ks1-users-jb-12-Data.db"
        ),
        (
            "ks1/users/ks1-users.users_email_idx-jb-4-Data.db", false,
            "ks=ks1 table=users id=none live index=users_email_idx sstable:ks1-users.users_email_idx-jb-4-Data.db"
        ),
        ("ks1/users/ks1-users-tmp-jb-13-Data.db", false, "ks=ks1 table=users id=none live ignored:tmp"),
        ("ks1/users/ks1-users-tmplink-ka-13-Index.db", false, "ks=ks1 table=users id=none live ignored:tmp"),
    ]

    @Test(arguments: 0..<cases.count)
    func classifies(index: Int) throws {
        let (path, isDirectory, expected) = Self.cases[index]
        let classified = try DataPath.classify(relativePath: path, isDirectory: isDirectory)
        #expect(Self.summary(classified) == expected, "\(path)")
        #expect(classified.relativePath == path)
        #expect(
            classified.isShipped
                == (expected.contains("sstable:") || expected.contains("metadata:")
                    || expected.contains("opaque:")))
        #expect(classified.isWatched == (expected.contains("dir:")))
        #expect((classified.ignoreReason != nil) == expected.contains("ignored:"))
    }

    @Test func ignoredReasonsAreExplained() throws {
        let unknown = try DataPath.classify(relativePath: "\(Self.t)/nb-42-big-Foo.db", isDirectory: false)
        #expect(unknown.ignoreReason?.description.contains("\"Foo.db\"") == true)
        let txn = try DataPath.classify(relativePath: "\(Self.t)/nb_txn_flush_1.log", isDirectory: false)
        #expect(txn.ignoreReason == .transactionLog)
        #expect(txn.ignoreReason?.description.isEmpty == false)
    }

    @Test func absolutePathsFindTheirDataDirectory() throws {
        let roots = ["/var/lib/cassandra/data", "/mnt/disk2/data/", "/mnt/disk2/data/nested"]
        let live = try DataPath.classify(
            path: "/var/lib/cassandra/data/\(Self.t)/nb-42-big-Data.db", dataDirectories: roots,
            isDirectory: false)
        #expect(live.dataDirectory == "/var/lib/cassandra/data")
        #expect(live.sstable?.fileName == "nb-42-big-Data.db")
        #expect(live.table?.keyspace == "shop")

        let second = try DataPath.classify(
            path: "/mnt/disk2/data/shop/", dataDirectories: roots, isDirectory: true)
        #expect(second.dataDirectory == "/mnt/disk2/data")
        #expect(second.kind == .keyspaceDirectory)

        // The deepest root wins when data directories nest.
        let nested = try DataPath.classify(
            path: "/mnt/disk2/data/nested/ks", dataDirectories: roots, isDirectory: true)
        #expect(nested.dataDirectory == "/mnt/disk2/data/nested")
        #expect(nested.keyspace == "ks")

        let root = try DataPath.classify(
            path: "/var/lib/cassandra/data", dataDirectories: roots, isDirectory: true)
        #expect(root.kind == .dataDirectory)

        // "/" holds every path; a deeper root still wins.
        let slash = try DataPath.classify(
            path: "/srv/ks/\(Self.t.split(separator: "/")[1])/nb-1-big-Data.db",
            dataDirectories: ["/", "/srv"],
            isDirectory: false)
        #expect(slash.dataDirectory == "/srv")
        #expect(slash.keyspace == "ks")
        let top = try DataPath.classify(path: "/ks", dataDirectories: ["/"], isDirectory: true)
        #expect(top.dataDirectory == "/")
        #expect(top.kind == .keyspaceDirectory)
    }

    @Test func bytesAreSearchedAsBytes() {
        #expect("nb_txn_flush_1.log".utf8.containsBytes("_txn_".utf8))
        #expect("a_txn_".utf8.containsBytes("_txn_".utf8))
        #expect(!"nb_txn-flush".utf8.containsBytes("_txn_".utf8))
        #expect(!"_tx".utf8.containsBytes("_txn_".utf8))
        #expect("x".utf8.containsBytes("".utf8))
        // "é" written as e + a combining accent holds the byte "e"; a Character search would not say so.
        #expect("cafe\u{301}".utf8.containsBytes("e".utf8))
    }

    static let badAbsolute: [(String, DataPathError)] = [
        (
            "/var/lib/cassandra/other/x",
            .outsideDataDirectories(
                path: "/var/lib/cassandra/other/x", dataDirectories: ["/var/lib/cassandra/data"])
        ),
        // A sibling that shares the root's prefix is outside too.
        (
            "/var/lib/cassandra/data2/ks",
            .outsideDataDirectories(
                path: "/var/lib/cassandra/data2/ks", dataDirectories: ["/var/lib/cassandra/data"])
        ),
        (
            "/var/lib/cassandra/data/../../../etc/passwd",
            .dotComponent(path: "/var/lib/cassandra/data/../../../etc/passwd", component: "..")
        ),
        ("/var/lib/cassandra/data/./ks", .dotComponent(path: "/var/lib/cassandra/data/./ks", component: ".")),
        ("/var/lib/cassandra/data//ks", .emptyComponent(path: "/var/lib/cassandra/data//ks")),
        ("/var/lib/cassandra/data/ks\0/t", .containsNUL(path: "/var/lib/cassandra/data/ks\0/t")),
        ("var/lib/cassandra/data/ks", .notAbsolute(path: "var/lib/cassandra/data/ks")),
        ("", .emptyPath),
    ]

    @Test(arguments: 0..<badAbsolute.count)
    func badAbsolutePathsAreRefused(index: Int) {
        let (path, expected) = Self.badAbsolute[index]
        #expect(throws: expected) {
            try DataPath.classify(
                path: path, dataDirectories: ["/var/lib/cassandra/data"], isDirectory: false)
        }
        #expect(expected.description.contains(path.quotedForMessage))
    }

    static let badRelative: [(String, DataPathError)] = [
        ("../ks/t", .dotComponent(path: "../ks/t", component: "..")),
        ("shop/../../x", .dotComponent(path: "shop/../../x", component: "..")),
        ("shop//orders", .emptyComponent(path: "shop//orders")),
        ("/shop/orders", .notRelative(path: "/shop/orders")),
        ("shop/\0", .containsNUL(path: "shop/\0")),
        ("", .emptyPath),
    ]

    @Test(arguments: 0..<badRelative.count)
    func badRelativePathsAreRefused(index: Int) {
        let (path, expected) = Self.badRelative[index]
        #expect(throws: expected) { try DataPath.classify(relativePath: path, isDirectory: false) }
    }

    @Test func badDataDirectoriesAreNamed() {
        #expect(throws: DataPathError.self) {
            try DataPath.classify(path: "/data/ks", dataDirectories: ["data"], isDirectory: true)
        }
        do {
            _ = try DataPath.classify(path: "/data/ks", dataDirectories: ["/data/../x"], isDirectory: true)
            Issue.record("accepted a data directory with ..")
        } catch {
            guard case .invalidDataDirectory(let root, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(root == "/data/../x")
        }
    }
}
