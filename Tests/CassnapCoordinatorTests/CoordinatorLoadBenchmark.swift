import CassnapAPI
import CassnapCore
import CassnapStore
import CassnapTestSupport
import Foundation
import Testing

/// Simulated load against the real coordinator process: `nodes` agents each report `files`
/// SSTable component files in batches, then one snapshot on every node lists them all.
/// Prints ingest rate, `snapshot sstables` latency and the coordinator's peak RSS. Small by
/// default so it always runs; deploy/bench/coordinator-load.sh scales it with
/// CASSNAP_BENCH_NODES / CASSNAP_BENCH_FILES. It asserts correctness, never timing.
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
            let keys = try ObjectKeys(prefix: "", cluster: ClusterName(clusterName))
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
                                    "objectKey":"\(try objectKey(node, i))","uploadedAt":"2026-01-01T00:00:00.000Z"}
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

            // One snapshot on every node, each manifest listing all the node's files.
            let created = try await coordinator.admin.createSnapshot(.init(delaySeconds: 1, tag: "bench"))
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
                                        sha256: try SHA256Digest(hex: sha(i)),
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

            let queryStarted = Date()
            let all = try await coordinator.admin.snapshotSSTables("bench")
            let querySeconds = Date().timeIntervalSince(queryStarted)
            #expect(all.reduce(0) { $0 + $1.components.count } == reports)
            let oneNodeStarted = Date()
            let oneNode = try await coordinator.admin.snapshotSSTables("bench", node: nodes[0].hostname)
            let oneNodeSeconds = Date().timeIntervalSince(oneNodeStarted)
            #expect(oneNode.reduce(0) { $0 + $1.components.count } == filesPerNode)

            let status =
                (try? String(contentsOfFile: "/proc/\(coordinator.pid ?? 0)/status", encoding: .utf8)) ?? ""
            let peak =
                status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.map(String.init) ?? "VmHWM: ?"
            let dbBytes =
                (try? FileManager.default.attributesOfItem(
                    atPath: dir.appendingPathComponent("catalog.sqlite").path)[.size] as? Int) ?? 0
            print(
                """
                cassnap coordinator load: \(nodeCount) nodes × \(filesPerNode) file reports = \(reports) reports, \
                batches of \(batchSize), \(workers) client workers
                  ingest:                \(String(format: "%.1f", ingestSeconds)) s, \
                \(String(format: "%.0f", Double(reports) / ingestSeconds)) reports/s
                  manifests verified:    \(nodeCount) in \(String(format: "%.1f", manifestSeconds)) s
                  snapshot sstables, full set (\(all.count) SSTables, \(reports) files): \
                \(String(format: "%.3f", querySeconds)) s
                  snapshot sstables --node (\(oneNode.count) SSTables): \(String(format: "%.3f", oneNodeSeconds)) s
                  coordinator peak RSS:  \(peak.replacingOccurrences(of: "VmHWM:", with: "").trimmingCharacters(in: .whitespaces))
                  catalog file:          \(dbBytes / 1_048_576) MiB
                """)
            coordinator.stop()
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
