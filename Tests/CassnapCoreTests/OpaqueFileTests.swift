import Foundation
import Testing

@testable import CassnapCore

/// Files of a snapshot cassnap does not recognise: names as Cassandra writes them (see
/// `OpaqueFileName`), where they go in the bucket, and what a manifest refuses.
@Suite("Opaque snapshot files")
struct OpaqueFileTests {
    @Test(
        "SAI and SASI files belong to their SSTable; 1.2's leveled manifest to none",
        arguments: [
            ("nb-1-big-SAI+aa+GroupComplete.db", "nb-1-big"),
            ("nb-1-big-SAI+aa+age_idx+Meta.db", "nb-1-big"),
            (
                "da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti-SAI+aa+age_idx+TermsData.db",
                "da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti"
            ),
            ("mc-4-big-SI_age_idx.db", "mc-4-big"),
            ("ks1-events-ic-5-Foo.db", "ks1-events-ic-5"),
            ("events.json", nil),
            ("nb-1-big-SAI+aa+Meta.db~1", nil),
        ] as [(String, String?)])
    func names(name: String, sstable: String?) throws {
        let file = try OpaqueFileName(name)
        #expect(file.sstableName == sstable)
        #expect(file.isPooled == (sstable != nil))
    }

    @Test(
        "names a restore must not write, and unfinished or recognised files, are refused",
        arguments: [
            "", "a/b", "..", ".", "a\u{0}b", "a\\b", "a\nb", String(repeating: "x", count: 256),
            "tmp-nb-1-big-SAI+aa+Meta.db", "tmplink-nb-1-big-SI_i.db", "x.tmp", "nb_txn_flush_1.log",
            "nb-1-big-Data.db",
        ])
    func refused(name: String) {
        #expect(throws: ValidationError.self) { try OpaqueFileName(name) }
    }

    @Test func pooledOpaqueKeysRoundTripWithCollisionSuffixes() throws {
        let file = try PooledFile(
            host: Examples.host, table: Examples.orders, indexName: nil,
            opaque: OpaqueFileName("nb-1-big-SAI+aa+age_idx+Meta.db"))
        let primary = Examples.keys.primaryKey(for: file)
        #expect(
            primary
                == "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63/nb-1-big-SAI+aa+age_idx+Meta.db"
        )
        let collision = Examples.keys.collisionKey(
            for: file, sha256: Examples.digest(String(repeating: "ab", count: 32)))
        for key in [primary, collision] {
            guard case .pooledFile(let parsed) = try Examples.keys.parse(key) else {
                Issue.record("\(key) did not parse as a pool key")
                continue
            }
            #expect(parsed.fileName == "nb-1-big-SAI+aa+age_idx+Meta.db")
            #expect(parsed.name.sstableName == "nb-1-big")
            #expect(Examples.keys.key(for: .pooledFile(parsed)) == key)
        }
        #expect(collision == primary + "~sha256-abababababababab")
    }

    @Test func snapshotOpaqueKeysRoundTrip() throws {
        let events = try TableRef(keyspace: "metrics", directory: TableDirectory(parsing: "events"))
        for index in [nil, "by_kind"] as [String?] {
            let file = try SnapshotOpaqueFile(
                host: Examples.host, tag: Examples.tag, table: events, indexName: index,
                file: OpaqueFileName("events.json"))
            let key = Examples.keys.primaryKey(for: file)
            #expect(
                key.hasSuffix(
                    "/snapshots/nightly-2024-05-01/metrics/events/" + (index.map { ".\($0)/" } ?? "")
                        + "events.json"))
            let collision = Examples.keys.collisionKey(
                for: file, sha256: Examples.digest(String(repeating: "0f", count: 32)))
            for candidate in [key, collision] {
                let parsed = try Examples.keys.parse(candidate)
                guard case .snapshotOpaqueFile(let opaque) = parsed else {
                    Issue.record("\(candidate) parsed as \(parsed)")
                    continue
                }
                #expect(opaque.file.name == "events.json" && opaque.indexName == index)
                #expect(Examples.keys.key(for: parsed) == candidate)
            }
        }
        // Cassandra's per-table files keep their own kind.
        let manifestKey = Examples.keys.key(
            for: .tableSnapshotFile(host: Examples.host, tag: Examples.tag, table: events, file: .manifest))
        guard case .tableSnapshotFile = try Examples.keys.parse(manifestKey) else {
            Issue.record("manifest.json is not a table snapshot file")
            return
        }
    }

    @Test func keysThatEscapeAreRefused() {
        for key in [
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/snapshots/t/ks/tb/../x.json",
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/snapshots/t/ks/tb/idx/x.json",
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/snapshots/t/ks/tb/tmp-x",
            "prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/data/ks/tb/events.json",
        ] {
            #expect(throws: ObjectKeyError.self, "\(key)") { try Examples.keys.parse(key) }
        }
    }

    @Test(
        "a manifest with a bad opaque file is refused",
        arguments: ["../x", "a/b", "nb-1-big-Data.db", "tmp-x", "manifest.json", "ok.json"])
    func manifestValidation(name: String) throws {
        var manifest = Examples.nodeManifest
        manifest.tables[0].opaqueFiles.append(
            .init(
                fileName: name, size: 1, sha256: Examples.digest(String(repeating: "1", count: 64)),
                objectKey: "a/b"))
        if name == "ok.json" {
            try manifest.validate()
            manifest.tables[0].opaqueFiles.append(manifest.tables[0].opaqueFiles.last!)
        }
        #expect(throws: ManifestError.self) { try manifest.validate() }
        // In an index directory a `manifest.json` is just a file.
        if name == "manifest.json" {
            manifest.tables[0].opaqueFiles[manifest.tables[0].opaqueFiles.count - 1].index = "orders_by_note"
            try manifest.validate()
        }
    }
}
