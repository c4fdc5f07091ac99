import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import CassnapRepository
import CassnapTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A node's snapshot in an in-memory bucket: two tables, one with an index, node files.
struct BackedUpNode {
    let store = InMemoryObjectStore()
    let keys: ObjectKeys
    let host = try! HostID("6f1c2a4e-0000-4000-8000-000000000001")
    let tag = try! SnapshotTag("nightly")
    var manifest: NodeManifest!

    init() async throws {
        keys = ObjectKeys(cluster: try ClusterName("Test Cluster"))
        let tableID = try TableID("5a1c395e-b41f-11e5-9f22-ba0be0483c18")
        var tables: [NodeManifest.Table] = []
        for (name, id) in [("orders", tableID), ("legacy", nil as TableID?)] {
            let ref = try TableRef(keyspace: "shop", table: name, id: id)
            var sstables: [NodeManifest.SSTable] = []
            for (generation, index) in [
                (1, nil as String?), (2, nil), (3, name == "orders" ? "by_day" : nil),
            ] {
                var files: [NodeManifest.File] = []
                for component in ["Data.db", "Index.db", "TOC.txt"] {
                    let fileName = "nb-\(generation)-big-\(component)"
                    let pooled = try PooledFile(
                        host: host, table: ref, indexName: index, file: SSTableFileName.parse(fileName))
                    files.append(
                        try await put(keys.primaryKey(for: pooled), "\(name) \(fileName) \(index ?? "")"))
                }
                sstables.append(
                    NodeManifest.SSTable(name: "nb-\(generation)-big", index: index, files: files))
            }
            let schema = try await put(
                keys.key(for: .tableSnapshotFile(host: host, tag: tag, table: ref, file: .schema)),
                "CREATE TABLE \(name)")
            tables.append(
                NodeManifest.Table(
                    keyspace: "shop", table: name, tableID: id,
                    snapshotFiles: [
                        NodeManifest.File(
                            fileName: "schema.cql", size: schema.size, sha256: schema.sha256,
                            objectKey: schema.objectKey)
                    ],
                    sstables: sstables))
        }
        let tokens = try await put(keys.key(for: .nodeTokens(host: host, tag: tag)), #"["-9000","42"]"#)
        manifest = NodeManifest(
            cluster: keys.cluster,
            node: NodeManifest.Node(
                hostID: host, hostname: "node1", datacenter: "dc1", rack: "r1", tokens: ["-9000", "42"],
                cassandraVersion: "4.1.3"),
            tag: tag, takenAt: Date(timeIntervalSince1970: 1_700_000_000),
            nodeFiles: [
                NodeManifest.File(
                    fileName: "tokens.json", size: tokens.size, sha256: tokens.sha256,
                    objectKey: tokens.objectKey)
            ],
            tables: tables)
    }

    private func put(_ key: String, _ text: String) async throws -> NodeManifest.File {
        let info = try await store.put(key: key, source: .string(text))
        return NodeManifest.File(
            fileName: String(key.split(separator: "/").last!), size: info.size,
            sha256: try SHA256Digest(hex: info.sha256!), objectKey: key)
    }

    var repository: Repository { Repository(store: store, keys: keys) }
}

func files(under root: String) -> [String: Data] {
    var result: [String: Data] = [:]
    let walker = FileManager.default.enumerator(atPath: root)
    while let relative = walker?.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory),
            !isDirectory.boolValue
        {
            result[relative] = FileManager.default.contents(atPath: root + "/" + relative)
        }
    }
    return result
}

@Suite("Restore")
struct RestoreTests {
    @Test func aNodeRestoresIntoTheImportLayoutAndAResumeDownloadsOnlyWhatIsWrong() async throws {
        let node = try await BackedUpNode()
        try await TemporaryDirectory.with { dir in
            let target = dir.appendingPathComponent("restore").path
            let plan = try RestorePlan(manifest: node.manifest, keys: node.keys)
            let restorer = Restorer(repository: node.repository, concurrency: 3)
            let first = try await restorer.restore([plan], into: target)
            #expect(first.failures.isEmpty)
            #expect(first.downloadedFiles == node.manifest.allFiles.count)
            let restored = files(under: target)
            let host = node.host.description
            #expect(
                restored.keys.contains(
                    "\(host)/shop/orders-5a1c395eb41f11e59f22ba0be0483c18/nb-1-big-Data.db"))
            #expect(
                restored.keys.contains(
                    "\(host)/shop/orders-5a1c395eb41f11e59f22ba0be0483c18/.by_day/nb-3-big-Data.db"))
            #expect(restored.keys.contains("\(host)/shop/legacy/nb-2-big-TOC.txt"))
            #expect(restored.keys.contains("\(host)/shop/legacy/schema.cql"))
            #expect(restored.keys.contains("\(host)/tokens.json"))
            #expect(
                restored.count == node.manifest.allFiles.count,
                "no staging file is left: \(restored.keys.sorted())")
            for entry in plan.entries {
                #expect(
                    Digest.sha256(restored[entry.path] ?? Data()).hexString == entry.file.sha256.hex,
                    "\(entry.path)")
            }

            // As after a kill: one file gone, one truncated, one with other bytes.
            let paths = plan.entries.map { target + "/" + $0.path }
            try FileManager.default.removeItem(atPath: paths[1])
            truncate(paths[2], 1)
            try Data("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".prefix(Int(plan.entries[3].file.size)).utf8).write(
                to: URL(fileURLWithPath: paths[3]))
            let second = try await restorer.restore([plan], into: target)
            #expect(second.downloadedFiles == 3, "only the three wrong files are fetched again")
            #expect(second.skippedFiles == plan.entries.count - 3)
            #expect(files(under: target) == restored)
        }
    }

    /// Every file in ranges (the path files from 256 MiB take): the pieces land at their
    /// offsets, the whole is checked against the manifest, and a rerun fetches nothing.
    @Test func filesFetchedInRangesRestoreByteForByte() async throws {
        let node = try await BackedUpNode()
        try await TemporaryDirectory.with { dir in
            let target = dir.appendingPathComponent("restore").path
            let plan = try RestorePlan(manifest: node.manifest, keys: node.keys)
            var restorer = Restorer(repository: node.repository, concurrency: 3)
            restorer.rangeThreshold = 2
            restorer.rangesPerFile = 3
            let first = try await restorer.restore([plan], into: target)
            #expect(first.failures.isEmpty, "\(first.failures)")
            #expect(first.downloadedFiles == plan.entries.count)
            let restored = files(under: target)
            #expect(
                restored.count == plan.entries.count, "no staging file is left: \(restored.keys.sorted())")
            for entry in plan.entries {
                #expect(
                    Digest.sha256(restored[entry.path] ?? Data()).hexString == entry.file.sha256.hex,
                    "\(entry.path)")
            }
            let again = try await restorer.restore([plan], into: target)
            #expect(again.downloadedFiles == 0 && again.skippedFiles == plan.entries.count)
        }
    }

    @Test func hostileManifestsAreRefusedBeforeAnythingIsWritten() async throws {
        let node = try await BackedUpNode()
        var escaping = node.manifest!
        escaping.tables[0].sstables[0].files[0].fileName = "../../etc/passwd"
        var foreign = node.manifest!
        foreign.tables[0].sstables[0].files[0].objectKey =
            "Test Cluster/nodes/6f1c2a4e-0000-4000-8000-000000000002/data/shop/orders/nb-1-big-Data.db"
        var absolute = node.manifest!
        absolute.nodeFiles[0].objectKey = "/etc/shadow"
        for (name, manifest) in [("escaping", escaping), ("foreign", foreign), ("absolute", absolute)] {
            #expect(throws: RepositoryError.self, "\(name)") {
                try RestorePlan(manifest: manifest, keys: node.keys)
            }
        }
    }

    @Test func aTargetThroughASymlinkIsRefusedAndNothingIsWritten() async throws {
        let node = try await BackedUpNode()
        try await TemporaryDirectory.with { dir in
            let outside = dir.appendingPathComponent("outside").path
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            let plan = try RestorePlan(manifest: node.manifest, keys: node.keys)
            let restorer = Restorer(repository: node.repository)

            // The target itself goes through a link.
            let link = dir.appendingPathComponent("link").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)
            await #expect(throws: RepositoryError.self) {
                try await restorer.restore([plan], into: link + "/restore")
            }

            // A directory inside the target is a link.
            let target = dir.appendingPathComponent("target").path
            try FileManager.default.createDirectory(
                atPath: target + "/\(node.host)", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: target + "/\(node.host)/shop", withDestinationPath: outside)
            await #expect(throws: RepositoryError.self) { try await restorer.restore([plan], into: target) }

            #expect(files(under: outside).isEmpty, "nothing may be written through a link")
            #expect(files(under: target).isEmpty)
        }
    }

    @Test func aReplacedObjectIsNamedByDeepVerifyAndRefusedByRestore() async throws {
        let node = try await BackedUpNode()
        let victim = node.manifest.tables[1].sstables[0].files[0]
        // Same size, other bytes: only the content check can tell.
        _ = try await node.store.put(
            key: victim.objectKey, source: .string(String(repeating: "z", count: Int(victim.size))))
        let repo = node.repository
        let shallow = try await repo.checkObjects(of: node.manifest)
        let deep = try await repo.checkContents(of: node.manifest.allFiles, concurrency: 2)
        #expect(deep.map(\.file.objectKey) == [victim.objectKey])
        // The in-memory store's listing carries each object's SHA-256, so even the listing check sees it.
        #expect(shallow.map(\.file.objectKey) == [victim.objectKey])
        try await TemporaryDirectory.with { dir in
            let target = dir.appendingPathComponent("r").path
            let outcome = try await Restorer(repository: repo).restore(
                [try RestorePlan(manifest: node.manifest, keys: node.keys)], into: target)
            #expect(outcome.failures.map(\.objectKey) == [victim.objectKey])
            #expect(outcome.failures.first?.reason.contains("SHA-256") == true)
            #expect(outcome.downloadedFiles == node.manifest.allFiles.count - 1)
            #expect(files(under: target).count == node.manifest.allFiles.count - 1)
        }
    }
}
