import CassnapAPI
import CassnapCLI
import CassnapCoordinator
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

/// Keyset pagination of the list endpoints: pages add up to exactly the one-page answer, each
/// page's SQL seeks in an index, and bad `limit`/`after` values are 400s naming them.
@Suite("Paged lists")
struct PagingTests {
    /// A snapshot of 5 nodes × 2 keyspaces × 2 tables (one with a secondary index) with SSTables
    /// of 1 to 4 components, so SSTable boundaries fall everywhere inside a page of files.
    static func catalogWithSnapshot() async throws -> (
        catalog: SQLiteCatalog, id: SnapshotID, files: [HostID: [SnapshotFile]]
    ) {
        let catalog = try SQLiteCatalog(cluster: ClusterName(clusterName))
        let hosts = try (1...5).map { try HostID(String(format: "6f1c2a4e-0000-4000-8000-%012d", $0)) }
        for (i, host) in hosts.enumerated() {
            try await catalog.register(
                AgentAPI.Registration(
                    hostID: host, hostname: "node\(i + 1)", cluster: clusterName, datacenter: "dc1",
                    rack: "r1",
                    tokens: ["0"], cassandraVersion: "4.1.3", dataDirectories: [], agentVersion: "test"),
                at: Date())
        }
        let id = SnapshotID()
        let at = Date().addingTimeInterval(60)
        let record = ClusterSnapshotRecord(
            id: id, cluster: try ClusterName(clusterName), tag: try SnapshotTag("paged"), requestedAt: at,
            deadline: at.addingTimeInterval(600), status: .pending,
            nodes: hosts.enumerated().map { .init(hostID: $1, hostname: "node\($0 + 1)", status: .pending) })
        try await catalog.createSnapshot(SnapshotPlan(record: record, commands: []))
        var all: [HostID: [SnapshotFile]] = [:]
        let components = ["Data.db", "Index.db", "Statistics.db", "TOC.txt"]
        for (h, host) in hosts.enumerated() {
            var files: [SnapshotFile] = []
            for keyspace in ["alpha", "beta"] {
                for table in ["t1", "t2"] {
                    for index in table == "t1" ? [nil, "t1_idx"] : [nil] {
                        for generation in 1...(3 + (h + table.count) % 4) {
                            let sstable = "nb-\(generation)-big"
                            for component in components.prefix(1 + (generation + h) % 4) {
                                let fileName = "\(sstable)-\(component)"
                                files.append(
                                    SnapshotFile(
                                        keyspace: keyspace, table: table, tableID: nil, index: index,
                                        sstable: sstable, fileName: fileName, size: Int64(files.count + 1),
                                        sha256: String(repeating: "a", count: 64),
                                        objectKey: "\(host)/\(keyspace)/\(table)/\(index ?? "")/\(fileName)"))
                            }
                        }
                    }
                }
            }
            all[host] = files
            _ = try await catalog.applyNodeOutcomes(
                reportID: "m-\(host)", host: host,
                outcomes: [
                    NodeOutcome(
                        snapshotID: id,
                        result: .complete(takenAt: at, manifestKey: "manifest-\(host)", files: files))
                ], at: Date())
        }
        return (catalog, id, all)
    }

    static func filters(_ files: [HostID: [SnapshotFile]]) throws -> [SSTableFilter] {
        let host = files.keys.sorted { $0.description < $1.description }[2]
        return [
            SSTableFilter(),
            SSTableFilter(host: host),
            SSTableFilter(keyspace: "beta"),
            SSTableFilter(keyspace: "alpha", table: "t1"),
            SSTableFilter(table: "t2"),
            SSTableFilter(host: host, keyspace: "alpha"),
            SSTableFilter(host: host, table: "t1"),
            SSTableFilter(host: host, keyspace: "beta", table: "t2"),
        ]
    }

    @Test func pagesAddUpToExactlyTheOnePageAnswerWithEveryFilter() async throws {
        let (catalog, id, files) = try await Self.catalogWithSnapshot()
        for filter in try Self.filters(files) {
            let whole = try await catalog.sstables(
                id, filter: filter, page: PageRequest(limit: AdminAPI.PageLimit.snapshotSSTables.maximum))
            #expect(whole.next == nil)
            // What the filter should select, straight from the generated files.
            let expected = files.flatMap { host, files in
                files.filter { f in
                    (filter.host.map { $0 == host } ?? true)
                        && (filter.keyspace.map { $0 == f.keyspace } ?? true)
                        && (filter.table.map { $0 == f.table } ?? true)
                }.map { "\(host)/\($0.objectKey)" }
            }
            let listed = whole.items.flatMap { t in t.components.map { "\(t.hostID)/\($0.objectKey)" } }
            #expect(listed.count == expected.count, "\(filter)")
            #expect(Set(listed) == Set(expected), "\(filter)")
            #expect(!listed.isEmpty)
            let keys = whole.items.map {
                [$0.hostID.description, $0.keyspace, $0.table, $0.index ?? "", $0.sstable]
            }
            #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) }, "order, \(filter)")

            for limit in [1, 2, 3, 7, whole.items.count - 1, whole.items.count, whole.items.count + 1] {
                var paged: [AdminAPI.SnapshotSSTable] = []
                var after: SSTableKey?
                var pages = 0
                repeat {
                    let page = try await catalog.sstables(
                        id, filter: filter, page: PageRequest(after: after, limit: limit))
                    #expect(page.items.count <= limit)
                    if page.next != nil { #expect(page.items.count == limit, "a short page before the end") }
                    paged += page.items
                    after = page.next
                    pages += 1
                } while after != nil && pages <= whole.items.count + 1
                #expect(paged == whole.items, "limit \(limit), \(filter)")
                #expect(pages == max(1, (whole.items.count + limit - 1) / limit), "limit \(limit), \(filter)")
            }
        }
    }

    @Test func everyPageSeeksInAnIndexWithoutSorting() async throws {
        let (catalog, _, files) = try await Self.catalogWithSnapshot()
        let after = SSTableKey(
            host: files.keys.sorted { $0.description < $1.description }[2].description, keyspace: "alpha",
            table: "t1", index: "", sstable: "nb-2-big")
        for filter in try Self.filters(files) {
            for cursor in [nil, after] {
                var cursor = cursor
                if let host = filter.host { cursor?.host = host.description }
                if let keyspace = filter.keyspace { cursor?.keyspace = keyspace }
                if let table = filter.table { cursor?.table = table }
                let plan = try await catalog.sstablesQueryPlan(filter: filter, after: cursor)
                let text = plan.joined(separator: " | ")
                #expect(!text.contains("TEMP B-TREE"), "\(filter): \(text)")
                #expect(!text.contains("SCAN"), "\(filter): \(text)")
                let files = try #require(plan.first { $0.contains(" f ") })
                if filter.host == nil, filter.keyspace != nil, filter.table != nil {
                    #expect(
                        files.contains(
                            "snapshot_files_by_table (snapshot_seq=? AND keyspace=? AND table_name=?"))
                } else {
                    #expect(files.contains("USING PRIMARY KEY (snapshot_seq=?"), "\(text)")
                }
                if filter.host != nil { #expect(files.contains("host_id=?"), "\(text)") }
                if cursor != nil { #expect(files.contains(")>("), "the cursor is part of the seek: \(text)") }
            }
        }
    }

    @Test func pagesOverHTTPAndBadLimitsOrCursorsAre400s() async throws {
        try await InProcessCoordinator.with { coordinator, store in
            let nodes = try await SimulatedNode.joined(3, to: coordinator, store: store)
            _ = try await coordinator.admin.createSnapshot(.init(delaySeconds: 1, tag: "first"))
            for node in nodes { try await node.takeSnapshot() }
            _ = try await coordinator.admin.createSnapshot(.init(delaySeconds: 1, tag: "second"))
            for node in nodes { try await node.takeSnapshot() }
            let admin = coordinator.admin

            // One big page, then pages of 5 through the stream: the same 12 SSTables.
            let one = try await admin.snapshotSSTablesPage("first", limit: 50_000)
            #expect(one.items.count == 12 && one.next == nil)
            var pages: [AdminAPI.Page<AdminAPI.SnapshotSSTable>] = []
            for try await page in admin.snapshotSSTablePages("first", limit: 5) { pages.append(page) }
            #expect(pages.map(\.items.count) == [5, 5, 2])
            #expect(pages.flatMap(\.items) == one.items)
            #expect(pages.last?.next == nil)
            // A filter keeps working across pages.
            var filtered: [AdminAPI.SnapshotSSTable] = []
            for try await page in admin.snapshotSSTablePages("first", table: "shop.orders", limit: 1) {
                filtered += page.items
            }
            #expect(filtered == one.items.filter { $0.table == "orders" } && filtered.count == 6)
            // The default page and the array convenience agree.
            #expect(try await admin.snapshotSSTables("first") == one.items)
            // `next` is present and null on the last page.
            let (_, lastText) = try await admin.raw("GET", "/v1/snapshots/first/sstables?limit=100")
            #expect(lastText.contains(#""next":null"#))

            // Snapshot list and live SSTables page too.
            let first = try await admin.snapshotsPage(limit: 1)
            #expect(first.items.map(\.tag.rawValue) == ["first"])
            let second = try await admin.snapshotsPage(after: first.next, limit: 1)
            #expect(second.items.map(\.tag.rawValue) == ["second"] && second.next == nil)
            #expect(try await admin.listSnapshots().map(\.tag.rawValue) == ["first", "second"])

            // Bad limits name `limit`, bad cursors name `after`; the catalog does not change.
            let before = try await CatalogView.of(coordinator.catalog)
            let node1Cursor = try #require(
                try await admin.snapshotSSTablesPage("first", node: "node1", limit: 1).next)
            let wrongShape = Data(#"["only","three","fields"]"#.utf8).base64EncodedString()
                .replacingOccurrences(of: "=", with: "")
            let cases: [(path: String, mentions: String)] = [
                ("/v1/snapshots/first/sstables?limit=0", "limit"),
                ("/v1/snapshots/first/sstables?limit=50001", "limit"),
                ("/v1/snapshots/first/sstables?limit=many", "limit"),
                ("/v1/snapshots/first/sstables?limit=-3", "limit"),
                ("/v1/snapshots/first/sstables?after=not%20a%20cursor", "after"),
                ("/v1/snapshots/first/sstables?after=", "after"),
                ("/v1/snapshots/first/sstables?after=\(wrongShape)", "after"),
                ("/v1/snapshots/first/sstables?node=node2&after=\(node1Cursor)", "after"),
                ("/v1/snapshots?limit=5001", "limit"),
                ("/v1/snapshots?after=%7B%7D", "after"),
                ("/v1/nodes/node1/sstables?at=2030-01-01T00:00:00Z&limit=0", "limit"),
                ("/v1/nodes/node1/sstables?at=2030-01-01T00:00:00Z&after=\(node1Cursor)", "after"),
            ]
            for c in cases {
                let (status, body) = try await admin.raw("GET", c.path)
                #expect(status == 400, "\(c.path): \(status) \(body)")
                let error = try? APICoding.decoder().decode(APIErrorBody.self, from: Data(body.utf8))
                #expect(error?.error.message.hasPrefix(c.mentions + ":") == true, "\(c.path): \(body)")
            }
            #expect(try await CatalogView.of(coordinator.catalog) == before)
        }
    }

    @Test func liveSSTablesPageInKeyOrder() async throws {
        let catalog = try SQLiteCatalog(cluster: ClusterName(clusterName))
        let host = try HostID("6f1c2a4e-0000-4000-8000-000000000001")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        var events: [AgentAPI.SSTableEvent] = []
        for table in ["a", "b", "c"] {
            for generation in 1...7 {
                events.append(
                    .init(
                        kind: .appeared, keyspace: "ks", table: table, tableID: nil,
                        sstable: "nb-\(generation)-big",
                        at: t0))
                if generation % 3 == 0 {
                    events.append(
                        .init(
                            kind: .disappeared, keyspace: "ks", table: table, tableID: nil,
                            sstable: "nb-\(generation)-big", at: t0.addingTimeInterval(5)))
                }
            }
        }
        _ = try await catalog.recordSSTableEvents(host, AgentAPI.Batch(reportID: "e", items: events), at: t0)
        let at = t0.addingTimeInterval(10)
        let whole = try await catalog.liveSSTables(host, at: at, page: PageRequest(limit: 1000))
        #expect(whole.items.count == 15 && whole.next == nil)
        for limit in [1, 4, 14, 15] {
            var items: [AdminAPI.LiveSSTable] = []
            var after: LiveSSTableKey?
            repeat {
                let page = try await catalog.liveSSTables(
                    host, at: at, page: PageRequest(after: after, limit: limit))
                items += page.items
                after = page.next
            } while after != nil
            #expect(items == whole.items, "limit \(limit)")
        }
    }

    @Test func cursorsRoundTripAndRejectGarbage() {
        let key = SSTableKey(host: "h", keyspace: "k", table: "t", index: "", sstable: "nb-1-big")
        #expect(PageCursor.decode(PageCursor.encode(key), as: SSTableKey.self) == key)
        let odd = SSTableKey(host: "ü/+=?", keyspace: "\"", table: "\\", index: "x", sstable: "🙂")
        let text = PageCursor.encode(odd)
        #expect(text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(PageCursor.decode(text, as: SSTableKey.self) == odd)
        #expect(PageCursor.decode(text, as: LiveSSTableKey.self) == nil)
        for garbage in ["", "!!!", "e30", String(repeating: "A", count: 5000)] {
            #expect(PageCursor.decode(garbage, as: SSTableKey.self) == nil, "\(garbage.prefix(10))")
        }
        let listKey = SnapshotListKey(requestedAt: 1_800_000_000.123, tag: "nightly")
        #expect(PageCursor.decode(PageCursor.encode(listKey), as: SnapshotListKey.self) == listKey)
    }

    @Test func theCLIPrintsPageByPageExactlyLikeOnePage() throws {
        let host = try HostID("6f1c2a4e-0000-4000-8000-000000000001")
        let sstables = (1...5).map { g in
            AdminAPI.SnapshotSSTable(
                hostID: host, hostname: "node\(g % 2)", keyspace: "shop",
                table: g == 3 ? "a-much-longer-table" : "t",
                tableID: nil, sstable: "nb-\(g)-big", index: g == 2 ? "by_x" : nil,
                components: (0..<g % 3 + 1).map {
                    .init(
                        fileName: "nb-\(g)-big-C\($0).db", size: Int64(g * 10 + $0), sha256: "ab",
                        objectKey: "k/\(g)/\($0)")
                })
        }
        // JSON: the streamed array is the very text of the array encoded at once.
        for split in [0, 1, 2, 5] {
            var text = ""
            var stream = JSONOutput.ArrayStream { text += $0 }
            try stream.append(contentsOf: Array(sstables.prefix(split)))
            try stream.append(contentsOf: [AdminAPI.SnapshotSSTable]())
            try stream.append(contentsOf: Array(sstables.dropFirst(split)))
            try stream.finish()
            #expect(text == (try JSONOutput.pretty(sstables)) + "\n", "split at \(split)")
        }
        var empty = ""
        try JSONOutput.ArrayStream { empty += $0 }.finish()
        #expect(empty == (try JSONOutput.pretty([AdminAPI.SnapshotSSTable]())) + "\n")

        // Table: one page prints exactly the old single table; more pages keep its columns.
        var printer = SnapshotReport.SSTableTable()
        let once = [printer.add(sstables), printer.summary].compactMap { $0 }.joined(separator: "\n")
        #expect(once == SnapshotReport.sstables(sstables))
        #expect(once.hasSuffix("5 SSTables, 11 files, 348 B"))
        var paged = SnapshotReport.SSTableTable()
        let pieces = [
            paged.add(Array(sstables.prefix(3))), paged.add([]), paged.add(Array(sstables.dropFirst(3))),
        ]
        #expect(pieces[1] == nil)
        let text = (pieces.compactMap { $0 } + [paged.summary]).joined(separator: "\n")
        #expect(text.split(separator: "\n").count == once.split(separator: "\n").count)
        #expect(text.hasSuffix(paged.summary) && paged.summary == printer.summary)
        #expect(!(pieces[2] ?? "").contains("NODE"), "the header prints once")
        var none = SnapshotReport.SSTableTable()
        #expect(none.add([]) == nil && none.summary == "no SSTables")
    }
}
