import Testing

@testable import CassnapAgent

/// The queue's memory window over pending rows: whatever does not fit waits in the "database"
/// (here a table in an actor) and is read back; every path is handed out exactly once.
@Suite struct UploadQueueTests {
    actor Table {
        var rows: [(rowid: Int64, path: String, pending: Bool)] = []
        var reads = 0

        func insert(_ paths: [String]) {
            for path in paths { rows.append((Int64(rows.count + 1), path, true)) }
        }

        func finish(_ path: String) {
            if let i = rows.firstIndex(where: { $0.path == path }) { rows[i].pending = false }
        }

        func pending(after rowid: Int64, limit: Int) -> [(Int64, String)] {
            reads += 1
            return Array(
                rows.filter { $0.pending && $0.rowid > rowid }.prefix(limit).map { ($0.rowid, $0.path) })
        }

        var pendingCount: Int { rows.filter(\.pending).count }
    }

    actor Handed {
        var counts: [String: Int] = [:]
        func take(_ path: String) { counts[path, default: 0] += 1 }
    }

    static func run(capacity: Int, workers: Int, batches: Int, batchSize: Int) async throws -> (Table, Handed)
    {
        let table = Table()
        let handed = Handed()
        let queue = UploadQueue(capacity: capacity) { after, limit in
            await table.pending(after: after, limit: limit)
        }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while let path = await queue.next() {
                        await handed.take(path)
                        await table.finish(path)  // the row stops being pending before `done`
                        await queue.done(path)
                    }
                }
            }
            group.addTask {
                for b in 0..<batches {
                    let paths = (0..<batchSize).map { "/data/ks/t/snapshots/s/b\(b)-f\($0)" }
                    await table.insert(paths)  // the row first, then the queue, as the ingestor does
                    await queue.add(paths)
                    await Task.yield()
                }
                await queue.finishWhenDrained()
            }
        }
        return (table, handed)
    }

    @Test(arguments: [(1, 1), (3, 4), (16, 2), (1000, 3)])
    func everyPendingPathIsHandedOutExactlyOnce(capacity: Int, workers: Int) async throws {
        let (table, handed) = try await Self.run(
            capacity: capacity, workers: workers, batches: 20, batchSize: 25)
        let counts = await handed.counts
        #expect(counts.count == 500)
        #expect(counts.values.allSatisfy { $0 == 1 }, "\(counts.filter { $0.value != 1 })")
        #expect(await table.pendingCount == 0)
    }

    @Test func aSmallWindowReadsTheBacklogBackFromTheDatabase() async throws {
        let (table, _) = try await Self.run(capacity: 4, workers: 2, batches: 5, batchSize: 50)
        #expect(await table.reads > 0)
        let (big, _) = try await Self.run(capacity: 1000, workers: 2, batches: 5, batchSize: 50)
        #expect(await big.reads == 0)
    }

    @Test func rescanReadsEveryPendingRowWithoutAnAdd() async throws {
        let table = Table()
        await table.insert((0..<30).map { "/p\($0)" })
        let queue = UploadQueue(capacity: 4) { after, limit in await table.pending(after: after, limit: limit)
        }
        await queue.rescanDatabase()
        await queue.finishWhenDrained()
        var seen: [String] = []
        while let path = await queue.next() {
            seen.append(path)
            await table.finish(path)
            await queue.done(path)
        }
        #expect(seen.sorted() == (0..<30).map { "/p\($0)" }.sorted())
    }
}
