import CassnapAPI
import CassnapCore
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

/// Simulated load against the real coordinator process: `nodes` agents each report `files`
/// SSTable component files in batches, then one snapshot on every node lists them all.
/// Prints ingest rate, `snapshot sstables` latency page by page (first page, whole set, per-page
/// median) for the full set, one node and one node's table, and the coordinator's RSS (VmHWM
/// before and after the queries). Small by default so it always runs;
/// deploy/bench/coordinator-load.sh scales it with CASSNAP_BENCH_NODES / CASSNAP_BENCH_FILES
/// (CASSNAP_BENCH_PAGE sets the page size). It asserts correctness, never timing.
@Suite("Coordinator load", .serialized)
struct CoordinatorLoadBenchmark {
    @Test func ingestAndQueryAFullSnapshotSet() async throws {
        let env = ProcessInfo.processInfo.environment
        let nodeCount = Int(env["CASSNAP_BENCH_NODES"] ?? "") ?? 4
        let filesPerNode = Int(env["CASSNAP_BENCH_FILES"] ?? "") ?? 400
        let batchSize = Int(env["CASSNAP_BENCH_BATCH"] ?? "") ?? 1000
        let workers = Int(env["CASSNAP_BENCH_WORKERS"] ?? "") ?? 8
        let components = ["Data.db", "Index.db", "Statistics.db", "TOC.txt"]

        try await TemporaryDirectory.with(prefix: "cassnap-bench") { dir in
            let coordinator = try CoordinatorProcess(directory: dir)
            try await coordinator.start()
            let store = try FileSystemObjectStore(root: dir.appendingPathComponent("bucket").path)
            let keys = ObjectKeys(cluster: try ClusterName(clusterName))
            let nodes = try (1...nodeCount).map {
                try SimulatedNode(index: $0, baseURL: coordinator.baseURL, store: store)
            }
            let table = try TableRef(
                keyspace: "bench", table: "events", id: TableID("5a1c395e-b41f-11e5-9f22-ba0be0483c18"))
            func fileName(_ i: Int) -> String {
                "nb-\(i / components.count + 1)-big-\(components[i % components.count])"
            }
            func objectKey(_ node: SimulatedNode, _ i: Int) throws -> String {
                keys.primaryKey(
                    for: try PooledFile(
                        host: node.host, table: table, indexName: nil,
                        file: SSTableFileName.parse(fileName(i))))
            }
            func sha(_ i: Int) -> String {
                let hex = String(i, radix: 16)
                return String(repeating: "0", count: 64 - hex.count) + hex
            }

            try await withThrowingTaskGroup(of: Void.self) { group in
                for chunk in stride(from: 0, to: nodes.count, by: workers) {
                    for node in nodes[chunk..<min(chunk + workers, nodes.count)] {
                        group.addTask { try await node.join() }
                    }
                    try await group.waitForAll()
                }
            }

            // Ingest: bodies are built as text so the client spends little of the shared CPU.
            let jobs = nodes.flatMap { node in
                stride(from: 0, to: filesPerNode, by: batchSize).map { (node, $0) }
            }
            let next = Counter()
            let started = Date()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<workers {
                    group.addTask {
                        while let index = next.take(below: jobs.count) {
                            let (node, start) = jobs[index]
                            var body = "{\"reportID\":\"files-\(node.host)-\(start)\",\"items\":["
                            for i in start..<min(start + batchSize, filesPerNode) {
                                if i > start { body += "," }
                                body += """
                                    {"keyspace":"bench","table":"events","tableID":"5a1c395e-b41f-11e5-9f22-ba0be0483c18",\
                                    "fileName":"\(fileName(i))","size":\(1000 + i),"sha256":"\(sha(i))",\
                                    "objectKey":"\(try objectKey(node, i))","uploadedAt":"\(InstantFormat.format(Date()))"}
                                    """
                            }
                            body += "]}"
                            let (status, text) = try await node.client.raw(
                                "POST", "/v1/agents/\(node.host)/files", body: Array(body.utf8))
                            guard status == 200 else {
                                throw TimedOut(what: "files accepted: \(status) \(text)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let ingestSeconds = Date().timeIntervalSince(started)
            let reports = nodeCount * filesPerNode

            // Ingest at full size outlasts live_node_seconds: heartbeat again so every node is
            // expected, and give the manifests a deadline that the verification cannot outrun.
            try await withThrowingTaskGroup(of: Void.self) { group in
                let nextNode = Counter()
                for _ in 0..<workers {
                    group.addTask {
                        while let index = nextNode.take(below: nodes.count) {
                            try await nodes[index].heartbeat()
                        }
                    }
                }
                try await group.waitForAll()
            }

            // One snapshot on every node, each manifest listing all the node's files.
            let created = try await coordinator.admin.createSnapshot(
                .init(delaySeconds: 1, tag: "bench", deadlineSeconds: 24 * 3600))
            // The coordinator checks every manifest's objects in the bucket (pool reports do not
            // vouch for them), so the objects must be there: written before the timed phase.
            let objects = ObjectTable()
            try await withThrowingTaskGroup(of: Void.self) { group in
                let nextNode = Counter()
                for _ in 0..<workers {
                    group.addTask {
                        while let index = nextNode.take(below: nodes.count) {
                            let node = nodes[index]
                            for i in 0..<filesPerNode {
                                let info = try await store.put(
                                    key: try objectKey(node, i),
                                    source: .bytes(Array(repeating: UInt8(i % 251), count: 1000 + i)))
                                objects.set(node.host, i, try SHA256Digest(hex: info.sha256!))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let manifestStarted = Date()
            try await withThrowingTaskGroup(of: Void.self) { group in
                let nextNode = Counter()
                for _ in 0..<min(workers, 4) {
                    group.addTask {
                        while let index = nextNode.take(below: nodes.count) {
                            let node = nodes[index]
                            var sstables: [NodeManifest.SSTable] = []
                            for s in stride(from: 0, to: filesPerNode, by: components.count) {
                                let files = try (s..<min(s + components.count, filesPerNode)).map { i in
                                    NodeManifest.File(
                                        fileName: fileName(i), size: Int64(1000 + i),
                                        sha256: objects.get(node.host, i),
                                        objectKey: try objectKey(node, i))
                                }
                                sstables.append(
                                    NodeManifest.SSTable(
                                        name: "nb-\(s / components.count + 1)-big", files: files))
                            }
                            let manifest = NodeManifest(
                                cluster: keys.cluster,
                                node: .init(
                                    hostID: node.host, hostname: node.hostname, datacenter: "dc1",
                                    rack: "rack1",
                                    tokens: ["0"], cassandraVersion: "4.1.3"),
                                tag: created.summary.tag, takenAt: created.summary.requestedAt, nodeFiles: [],
                                tables: [
                                    .init(
                                        keyspace: "bench", table: "events", tableID: table.id,
                                        snapshotFiles: [],
                                        sstables: sstables)
                                ])
                            let command = AgentAPI.SnapshotCommand(
                                snapshotID: created.summary.id, tag: created.summary.tag,
                                at: created.summary.requestedAt,
                                deadline: created.summary.deadline, keyspaces: [], tables: [],
                                clearAfterUpload: true)
                            let report = try await node.writeManifest(manifest, for: command)
                            _ = try await node.client.reportManifests(
                                node.host, AgentAPI.Batch(reportID: "manifest-\(node.host)", items: [report]))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let manifestSeconds = Date().timeIntervalSince(manifestStarted)
            let detail = try await coordinator.admin.snapshot("bench")
            #expect(detail.summary.status == .complete)
            #expect(detail.summary.files == reports)

            let pid = coordinator.pid ?? 0
            let rssBeforeQuery = ProcessMemory(pid: pid)

            // `snapshot sstables` page by page, as the CLI reads it. Each request is timed on its
            // own (HTTP round trip: the coordinator's SQL, JSON and transfer); decoding and the
            // checks run outside the timed part, in this debug-built test process.
            let pageSize =
                Int(env["CASSNAP_BENCH_PAGE"] ?? "") ?? AdminAPI.PageLimit.snapshotSSTables.defaultValue
            func readAll(_ query: String) async throws -> (
                pages: [Double], sstables: Int, files: Int, wall: Double
            ) {
                var latencies: [Double] = []
                var sstables = 0
                var files = 0
                var after: String?
                var previous: [String]?
                let started = Date()
                repeat {
                    var path = "/v1/snapshots/bench/sstables?limit=\(pageSize)\(query)"
                    if let after { path += "&after=\(after)" }
                    let requested = Date()
                    let (status, body) = try await coordinator.admin.raw("GET", path)
                    latencies.append(Date().timeIntervalSince(requested))
                    guard status == 200 else { throw TimedOut(what: "a page: \(status) \(body.prefix(200))") }
                    let page = try APICoding.decoder().decode(
                        AdminAPI.Page<AdminAPI.SnapshotSSTable>.self, from: Data(body.utf8))
                    #expect(page.items.count <= pageSize)
                    // Strictly increasing keys across page boundaries: none repeated, none skipped.
                    let keys = page.items.map {
                        [$0.hostID.description, $0.keyspace, $0.table, $0.index ?? "", $0.sstable]
                    }
                    if let first = keys.first, let previous {
                        #expect(previous.lexicographicallyPrecedes(first))
                    }
                    previous = keys.last ?? previous
                    sstables += page.items.count
                    files += page.items.reduce(0) { $0 + $1.components.count }
                    after = page.next
                } while after != nil
                return (latencies, sstables, files, Date().timeIntervalSince(started))
            }
            let full = try await readAll("")
            #expect(full.files == reports)
            #expect(full.sstables == nodeCount * ((filesPerNode + components.count - 1) / components.count))
            let rssAfterQuery = ProcessMemory(pid: pid)
            let oneNode = try await readAll("&node=\(nodes[nodeCount / 2].hostname)")
            #expect(oneNode.files == filesPerNode)
            let oneTable = try await readAll("&table=bench.events&node=\(nodes[0].hostname)")
            #expect(oneTable.files == filesPerNode)
            let rssEnd = ProcessMemory(pid: pid)

            let dbBytes = ["catalog.sqlite", "catalog.sqlite-wal"].reduce(0) { total, name in
                total
                    + ((try? FileManager.default.attributesOfItem(
                        atPath: dir.appendingPathComponent(name).path)[.size] as? Int) ?? 0)
            }
            func ms(_ seconds: Double) -> String { String(format: "%.0f ms", seconds * 1000) }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            func describe(_ r: (pages: [Double], sstables: Int, files: Int, wall: Double)) -> String {
                """
                \(r.sstables) SSTables / \(r.files) files in \(r.pages.count) pages: first page \(ms(r.pages[0])), \
                all pages \(String(format: "%.1f", r.pages.reduce(0, +))) s of requests \
                (\(String(format: "%.1f", r.wall)) s with client decoding), per page median \(ms(median(r.pages))), \
                max \(ms(r.pages.max() ?? 0))
                """
            }
            print(
                """
                cassnap coordinator load: \(nodeCount) nodes × \(filesPerNode) file reports = \(reports) reports, \
                batches of \(batchSize), \(workers) client workers, pages of \(pageSize) SSTables
                  ingest:                \(String(format: "%.1f", ingestSeconds)) s, \
                \(String(format: "%.0f", Double(reports) / ingestSeconds)) reports/s
                  manifests verified:    \(nodeCount) in \(String(format: "%.1f", manifestSeconds)) s
                  snapshot sstables, full set: \(describe(full))
                  snapshot sstables --node:    \(describe(oneNode))
                  snapshot sstables --node --table: \(describe(oneTable))
                  coordinator RSS:       peak (VmHWM) \(rssBeforeQuery.peak) before the queries, \
                \(rssAfterQuery.peak) after the full set, \(rssEnd.peak) at the end; \
                current (VmRSS) \(rssBeforeQuery.current) → \(rssAfterQuery.current) → \(rssEnd.current), \
                of which heap (RssAnon) \(rssBeforeQuery.anonymous) → \(rssAfterQuery.anonymous) → \(rssEnd.anonymous)
                  catalog file:          \(dbBytes / 1_048_576) MiB
                """)
            coordinator.stop()
        }
    }
}

/// VmHWM, VmRSS and its anonymous part (heap, not mapped files) of a process, from /proc/PID/status.
struct ProcessMemory {
    var peak = "?"
    var current = "?"
    var anonymous = "?"

    init(pid: Int32) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") {
            let value =
                line.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "?"
            if line.hasPrefix("VmHWM:") { peak = value }
            if line.hasPrefix("VmRSS:") { current = value }
            if line.hasPrefix("RssAnon:") { anonymous = value }
        }
    }
}

/// Hands out indexes to workers.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

/// The SHA-256 of each object the benchmark wrote, by node and file index.
final class ObjectTable: @unchecked Sendable {
    private let lock = NSLock()
    private var digests: [HostID: [Int: SHA256Digest]] = [:]
    func set(_ host: HostID, _ i: Int, _ digest: SHA256Digest) {
        lock.withLock { digests[host, default: [:]][i] = digest }
    }
    func get(_ host: HostID, _ i: Int) -> SHA256Digest { lock.withLock { digests[host]![i]! } }
}
