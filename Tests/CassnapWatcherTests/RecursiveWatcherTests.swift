import CassnapCore
import CassnapWatcher
import Foundation
import Synchronization
import Testing

/// Real inotify on real directories.
@Suite(.serialized) struct RecursiveWatcherTests {
    /// Collects events until `done` holds for everything seen, or the deadline passes.
    final class Collector: Sendable {
        let seen = Mutex<[WatchEvent]>([])

        init(_ stream: AsyncStream<[WatchEvent]>) {
            Task { [self] in
                for await batch in stream { seen.withLock { $0.append(contentsOf: batch) } }
            }
        }

        var events: [WatchEvent] { seen.withLock { $0 } }

        var appeared: Set<String> {
            Set(events.compactMap { if case .fileAppeared(let p) = $0 { p } else { nil } })
        }

        func wait(seconds: Double = 20, until done: ([WatchEvent]) -> Bool) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if done(events) { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return done(events)
        }
    }

    func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cassnap-watch-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func write(_ path: String, _ text: String = "x") {
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    }

    @Test func filesPresentAtStartAreListed() async throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(
            atPath: root + "/ks/t-1/snapshots/a", withIntermediateDirectories: true)
        write(root + "/ks/t-1/nb-1-big-Data.db")
        write(root + "/ks/t-1/snapshots/a/nb-1-big-Data.db")
        let watcher = try RecursiveWatcher(configuration: .init(roots: [root]))
        let c = Collector(watcher.start())
        defer { watcher.stop() }
        let expected: Set = [
            root + "/ks/t-1/nb-1-big-Data.db", root + "/ks/t-1/snapshots/a/nb-1-big-Data.db",
        ]
        #expect(await c.wait { _ in c.appeared == expected })
        #expect(watcher.watchCount == 5)  // root, ks, t-1, snapshots, a
    }

    @Test func hardLinksRaiseAppearedAndWritesRaiseClosed() async throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watcher = try RecursiveWatcher(configuration: .init(roots: [root]))
        let c = Collector(watcher.start())
        defer { watcher.stop() }
        try await Task.sleep(for: .milliseconds(100))
        write(root + "/live-Data.db", "content")
        #expect(link(root + "/live-Data.db", root + "/linked-Data.db") == 0)
        #expect(
            await c.wait { events in
                events.contains(.fileAppeared(root + "/linked-Data.db"))
                    && events.contains(.fileClosed(root + "/live-Data.db"))
            })
        // A hard link is never written, so it is never closed: the watcher must not need that.
        #expect(!c.events.contains(.fileClosed(root + "/linked-Data.db")))
        unlink(root + "/live-Data.db")
        #expect(await c.wait { $0.contains(.fileRemoved(root + "/live-Data.db")) })
    }

    /// The race the old tools lost: directories created and filled faster than a watch can be
    /// added. Watch-then-list must find every file.
    @Test func burstOfLinksIntoBrandNewDirectoriesMissesNothing() async throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/source"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        for i in 0..<40 { write(source + "/f\(i)", "\(i)") }
        let watcher = try RecursiveWatcher(configuration: .init(roots: [root + "/tables"]))
        try FileManager.default.createDirectory(atPath: root + "/tables", withIntermediateDirectories: true)
        let c = Collector(watcher.start())
        defer { watcher.stop() }
        try await Task.sleep(for: .milliseconds(100))
        var expected = Set<String>()
        for t in 0..<100 {
            let dir = root + "/tables/t\(t)/snapshots/storm"
            mkdir(root + "/tables/t\(t)", 0o755)
            mkdir(root + "/tables/t\(t)/snapshots", 0o755)
            mkdir(dir, 0o755)
            for i in 0..<40 {
                #expect(link(source + "/f\(i)", dir + "/f\(i)") == 0)
                expected.insert(dir + "/f\(i)")
            }
        }
        #expect(await c.wait(seconds: 30) { _ in c.appeared.isSuperset(of: expected) })
        #expect(
            expected.subtracting(c.appeared).isEmpty, "missed \(expected.subtracting(c.appeared).count) files"
        )
    }

    @Test func aSlowConsumerGetsEveryFileInBoundedBatches() async throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var expected = Set<String>()
        for d in 0..<10 {
            mkdir(root + "/d\(d)", 0o755)
            for i in 0..<1000 {
                write(root + "/d\(d)/f\(i)")
                expected.insert(root + "/d\(d)/f\(i)")
            }
        }
        let watcher = try RecursiveWatcher(configuration: .init(roots: [root]))
        defer { watcher.stop() }
        var appeared = Set<String>()
        var largest = 0
        let deadline = Date().addingTimeInterval(60)
        for await batch in watcher.start() {
            largest = max(largest, batch.count)
            for case .fileAppeared(let path) in batch { appeared.insert(path) }
            if appeared.isSuperset(of: expected) || Date() > deadline { break }
            try await Task.sleep(for: .milliseconds(10))  // behind the watcher all along
        }
        #expect(
            expected.subtracting(appeared).isEmpty, "missed \(expected.subtracting(appeared).count) files")
        #expect(largest <= RecursiveWatcher.batchSize)
    }

    @Test func stopReturnsWhileNobodyConsumes() async throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for i in 0..<(RecursiveWatcher.batchSize * (RecursiveWatcher.bufferedBatches + 3)) {
            write(root + "/f\(i)")
        }
        let watcher = try RecursiveWatcher(configuration: .init(roots: [root]))
        let stream = watcher.start()  // never iterated: the watcher thread waits on a full buffer
        watcher.stop()
        let ended = DispatchSemaphore(value: 0)
        Task {
            await watcher.stopped()
            ended.signal()
        }
        let returned = try await BlockingThreads.shared.run { ended.wait(timeout: .now() + 20) == .success }
        #expect(returned, "the watcher thread hung on a consumer that never reads")
        _ = stream
    }

    @Test func removedDirectoriesDropTheirWatches() async throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(
            atPath: root + "/snapshots/tag/sub", withIntermediateDirectories: true)
        let watcher = try RecursiveWatcher(configuration: .init(roots: [root]))
        let c = Collector(watcher.start())
        defer { watcher.stop() }
        #expect(await c.wait { _ in watcher.watchCount == 4 })
        try FileManager.default.removeItem(atPath: root + "/snapshots/tag")
        #expect(await c.wait { $0.contains(.directoryRemoved(root + "/snapshots/tag")) })
        #expect(await c.wait { _ in watcher.watchCount == 2 })
    }

    @Test func directoriesTheFilterRejectsAreNotWatched() async throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(
            atPath: root + "/commitlog", withIntermediateDirectories: true)
        write(root + "/commitlog/CommitLog-7-1.log")
        let watcher = try RecursiveWatcher(
            configuration: .init(roots: [root], shouldWatch: { !$0.hasSuffix("/commitlog") }))
        let c = Collector(watcher.start())
        defer { watcher.stop() }
        try await Task.sleep(for: .milliseconds(300))
        write(root + "/commitlog/CommitLog-7-2.log")
        write(root + "/kept")
        #expect(await c.wait { $0.contains(.fileAppeared(root + "/kept")) })
        #expect(!c.appeared.contains { $0.contains("/commitlog/") })
        #expect(watcher.watchCount == 1)
    }

    @Test func parsesRecordsWithPaddedNames() {
        var bytes: [UInt8] = []
        func record(wd: Int32, mask: UInt32, name: String, padTo: Int) {
            withUnsafeBytes(of: wd.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: mask.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0)) { bytes += $0 }
            withUnsafeBytes(of: UInt32(padTo).littleEndian) { bytes += $0 }
            var n = Array(name.utf8)
            n += [UInt8](repeating: 0, count: padTo - n.count)
            bytes += n
        }
        record(wd: 3, mask: 0x100, name: "nb-1-big-Data.db", padTo: 32)
        record(wd: 4, mask: 0x4000_0100, name: "dir", padTo: 16)
        record(wd: -1, mask: 0x4000, name: "", padTo: 0)
        let events = bytes.withUnsafeBytes { InotifyEventSource.parse($0) }
        #expect(events.map(\.name) == ["nb-1-big-Data.db", "dir", ""])
        #expect(events.map(\.wd) == [3, 4, -1])
        #expect(events[1].isDirectory)
        #expect(!events[0].isDirectory)
    }
}
