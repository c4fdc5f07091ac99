import CassnapTestSupport
import CassnapWatcher
import Dispatch
import Foundation
import Synchronization
import Testing

/// `IN_Q_OVERFLOW` for real: `fs.inotify.max_queued_events` is lowered before the watcher's
/// inotify instance is created (the kernel copies the limit at `inotify_init1`), so its queue
/// holds only a few events, and a burst of hard links in new directories must still be found,
/// by the rescan that follows the overflow.
@Suite(
    .serialized,
    .enabled(if: InotifyLimits.overflowTestsEnabled, Comment(rawValue: InotifyLimits.skipReason)))
struct WatcherOverflowTests {
    typealias Collector = RecursiveWatcherTests.Collector

    static let queueLimit = 16

    /// Blocks the watcher thread inside `shouldWatch` until opened, so the kernel queue fills
    /// while nothing reads it. Every wait is bounded.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        private let entered = Atomic<Bool>(false)
        private let opened = Atomic<Bool>(false)

        func hold() {
            entered.store(true, ordering: .releasing)
            if opened.load(ordering: .acquiring) { return }
            _ = semaphore.wait(timeout: .now() + 60)
        }

        var isHolding: Bool { entered.load(ordering: .acquiring) }

        func open() {
            if !opened.exchange(true, ordering: .acquiringAndReleasing) { semaphore.signal() }
        }
    }

    /// `tables` new table directories with `snapshots/<tag>/` holding `links` hard links each.
    static func linkBurst(root: String, source: String, tag: String, tables: Int, links: Int) -> Set<String> {
        var made = Set<String>()
        for t in 0..<tables {
            let table = root + "/\(tag)-t\(t)"
            mkdir(table, 0o755)
            mkdir(table + "/snapshots", 0o755)
            mkdir(table + "/snapshots/" + tag, 0o755)
            for i in 0..<links {
                let path = table + "/snapshots/\(tag)/f\(i)"
                if link(source + "/f\(i)", path) == 0 { made.insert(path) }
            }
        }
        return made
    }

    @Test func overflowRescanFindsEveryLinkInNewDirectories() async throws {
        try await TemporaryDirectory.with(prefix: "cassnap-overflow") { url in
            let root = url.path
            let source = root + "/source"
            let tables = root + "/tables"
            mkdir(source, 0o755)
            mkdir(tables, 0o755)
            let links = 40
            for i in 0..<links {
                #expect(
                    FileManager.default.createFile(atPath: source + "/f\(i)", contents: Data("\(i)".utf8)))
            }
            let gate = Gate()
            let configuration = RecursiveWatcher.Configuration(
                roots: [tables],
                shouldWatch: { path in
                    if path.hasSuffix("/hold") { gate.hold() }
                    return true
                })
            // Lowered only while the instance is created; the rest of the machine keeps the
            // normal limit during the storm.
            let watcher = try await InotifyLimits.withMaxQueuedEvents(Self.queueLimit) { _ in
                try RecursiveWatcher(configuration: configuration)
            }
            let c = Collector(watcher.start())
            defer { watcher.stop() }
            defer { gate.open() }  // runs first: a failing test must not leave the thread blocked

            // 1. Deterministic overflow: the watcher thread is held in `shouldWatch("…/hold")`
            //    while 100 table directories appear under the watched root (100 IN_CREATE
            //    events for a queue of 16) and get 4,000 links it has no watch for yet.
            mkdir(tables + "/hold", 0o755)
            let entered = await c.wait(seconds: 30) { _ in gate.isHolding }
            #expect(entered, "the watcher thread never reached the gate")
            var expected = Self.linkBurst(
                root: tables, source: source, tag: "held", tables: 100, links: links)
            gate.open()

            // 2. Racing the rescan: another 4,000 links in 100 new directories while the watcher
            //    rescans; with 16 events of queue this usually overflows again.
            expected.formUnion(
                Self.linkBurst(root: tables, source: source, tag: "racing", tables: 100, links: links))
            #expect(expected.count == 2 * 100 * links)

            _ = await c.wait(seconds: 120) { _ in c.appeared.isSuperset(of: expected) }
            let missed = expected.subtracting(c.appeared)
            #expect(
                missed.isEmpty,
                "missed \(missed.count) of \(expected.count) files, e.g. \(missed.sorted().prefix(3))")
            let overflows = c.events.filter { $0 == .overflow }.count
            #expect(overflows >= 1, "the queue of \(Self.queueLimit) events never overflowed")
            // Every directory made in the storm is watched: the rescan re-adds them all.
            #expect(await c.wait(seconds: 30) { _ in watcher.watchCount == 1 + 1 + 200 * 3 })
            print("WatcherOverflowTests: \(overflows) overflow(s) reported for \(expected.count) links")
        }
    }
}
