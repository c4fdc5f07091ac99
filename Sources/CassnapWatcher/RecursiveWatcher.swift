import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What the watcher reports. Paths are absolute. The same file can be reported more than once
/// (by an event and by a listing that raced it, or after a rescan), so consumers must be
/// idempotent; duplicates inside one batch are removed.
package enum WatchEvent: Sendable, Hashable {
    /// A file was created, hard-linked (which raises only IN_CREATE), moved in, or found while
    /// listing a directory.
    case fileAppeared(String)
    /// A writer closed the file (IN_CLOSE_WRITE): a live SSTable component may now be complete.
    case fileClosed(String)
    case fileRemoved(String)
    case directoryRemoved(String)
    /// The kernel queue overflowed and events were lost; a full rescan follows at once and its
    /// files arrive as `fileAppeared`.
    case overflow
    /// No more inotify watches (`fs.inotify.max_user_watches`); the directory is not watched and
    /// the consumer must fall back to periodic scanning.
    case watchLimitReached(String)
    /// An entry that is neither a regular file nor a directory to descend into (a symbolic link,
    /// a FIFO), or whose name is not UTF-8 (its path then shows the bytes escaped).
    case entrySkipped(String, SkipReason)
    /// The kernel queue was found empty after this instant: every change made before it has
    /// been reported, in this batch or an earlier one. Sent at most once per
    /// `Configuration.caughtUpInterval`, and never while events keep coming.
    case caughtUp(Date)
}

/// Watches directory trees recursively with inotify, adding watches as directories appear.
///
/// **Watch first, then list.** A new directory is watched before it is listed, so a file
/// linked into it before the watch existed is found by the listing, and one linked after is
/// reported by an event: `nodetool snapshot` cannot outrun it, which is how tablesnap and the
/// Go seed tool lost files.
package final class RecursiveWatcher: @unchecked Sendable {
    package struct Configuration: Sendable {
        package var roots: [String]
        /// Whether to descend into (and watch) a directory below a root.
        package var shouldWatch: @Sendable (String) -> Bool = { _ in true }
        /// How long the watcher thread blocks in poll(2) before checking for stop.
        package var pollTimeout: Duration = .milliseconds(200)
        /// How often an idle watcher says `caughtUp`.
        package var caughtUpInterval: TimeInterval = 1

        package init(roots: [String], shouldWatch: @escaping @Sendable (String) -> Bool = { _ in true }) {
            self.roots = roots
            self.shouldWatch = shouldWatch
        }
    }

    package let configuration: Configuration
    private let source: InotifyEventSource
    // Confined to the watcher thread after `start`.
    private var pathByWatch: [Int32: String] = [:]
    private var watchByPath: [String: Int32] = [:]
    private var limitReported = false
    private let stopping = Atomic<Bool>(false)
    private let watchCountValue = Atomic<Int>(0)
    /// Whether the thread has ended, and who awaits it (`stopped()`).
    private let end = Mutex<(ended: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    package init(configuration: Configuration) throws {
        self.configuration = configuration
        source = try InotifyEventSource()
    }

    /// Number of directories watched now.
    package var watchCount: Int { watchCountValue.load(ordering: .relaxed) }

    /// Events per batch, and batches the stream holds for a consumer that is behind. When both
    /// are full the watcher thread waits (the kernel queues meanwhile, and an overflow means a
    /// rescan), so a storm or a rescan of a big node never piles up in memory.
    package static let batchSize = 2048
    package static let bufferedBatches = 2

    /// Starts the watcher thread. The initial listing of every root arrives as the first
    /// batches; then events, in batches, until `stop()`.
    package func start() -> AsyncStream<[WatchEvent]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [WatchEvent].self, bufferingPolicy: .bufferingOldest(Self.bufferedBatches))
        let thread = Thread { [self] in
            run(continuation)
            continuation.finish()
            let waiters = end.withLock { state in
                state.ended = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = "cassnap-watcher"
        thread.start()
        return stream
    }

    /// Asks the thread to stop and returns at once; it ends within one poll timeout, and then
    /// the event stream finishes. `stopped()` waits for that without blocking a thread.
    package func stop() {
        stopping.store(true, ordering: .releasing)
    }

    /// Returns once the thread that `start()` began has ended (at once if it has).
    package func stopped() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let ended = end.withLock { state in
                if !state.ended { state.waiters.append(waiter) }
                return state.ended
            }
            if ended { waiter.resume() }
        }
    }

    private func run(_ out: AsyncStream<[WatchEvent]>.Continuation) {
        var batch = Batch(out: out, stopping: { self.stopping.load(ordering: .relaxed) })
        for root in configuration.roots { addTree(root, isRoot: true, into: &batch) }
        batch.flush()
        var caughtUpSaid = Date.distantPast
        while !stopping.load(ordering: .acquiring) {
            let readStarted = Date()
            let events: [InotifyEvent]
            do {
                events = try source.read(timeout: configuration.pollTimeout)
            } catch {
                batch.add(.overflow)  // the fd is unusable; the consumer's reconcile must take over
                batch.flush()
                return
            }
            for event in events { handle(event, into: &batch) }
            // A read that found nothing: whatever happened before it started was read already.
            if events.isEmpty, readStarted.timeIntervalSince(caughtUpSaid) >= configuration.caughtUpInterval {
                batch.add(.caughtUp(readStarted))
                caughtUpSaid = readStarted
            }
            batch.flush()
        }
    }

    private func handle(_ event: InotifyEvent, into batch: inout Batch) {
        if event.has(IN_Q_OVERFLOW) {
            batch.add(.overflow)
            for root in configuration.roots { addTree(root, isRoot: true, into: &batch) }
            return
        }
        if event.has(IN_IGNORED) {
            forget(watch: event.wd)
            return
        }
        guard let dir = pathByWatch[event.wd] else { return }
        if event.has(IN_DELETE_SELF) || event.has(IN_MOVE_SELF) {
            if event.has(IN_MOVE_SELF) { source.removeWatch(event.wd) }
            return
        }
        let path = dir + "/" + event.name
        if event.hasInvalidName {
            if event.has(IN_CREATE) || event.has(IN_MOVED_TO) { batch.add(.entrySkipped(path, .nameNotUTF8)) }
            return
        }
        if event.isDirectory {
            if event.has(IN_CREATE) || event.has(IN_MOVED_TO) {
                if configuration.shouldWatch(path) { addTree(path, isRoot: false, into: &batch) }
            } else if event.has(IN_DELETE) || event.has(IN_MOVED_FROM) {
                dropTree(path)
                batch.add(.directoryRemoved(path))
            }
            return
        }
        if event.has(IN_CREATE) || event.has(IN_MOVED_TO) { batch.add(.fileAppeared(path)) }
        if event.has(IN_CLOSE_WRITE) { batch.add(.fileClosed(path)) }
        if event.has(IN_DELETE) || event.has(IN_MOVED_FROM) { batch.add(.fileRemoved(path)) }
    }

    /// Watch first, then list: files that were there before the watch come from the listing,
    /// files after it from events.
    private func addTree(_ path: String, isRoot: Bool, into batch: inout Batch) {
        do {
            let wd = try source.addWatch(path)
            if let old = pathByWatch[wd], old != path { watchByPath[old] = nil }
            pathByWatch[wd] = path
            watchByPath[path] = wd
            watchCountValue.store(pathByWatch.count, ordering: .relaxed)
        } catch InotifyError.watchLimitReached {
            batch.add(.watchLimitReached(path))
            limitReported = true
        } catch {
            // Gone already (a snapshot cleared at once) or unreadable: nothing to watch.
            if !isRoot { return }
        }
        for entry in DirectoryListing.entries(of: path) ?? [] {
            if entry.hasInvalidName {
                batch.add(.entrySkipped(entry.path, .nameNotUTF8))
                continue
            }
            switch entry.kind {
            case .directory:
                if configuration.shouldWatch(entry.path) { addTree(entry.path, isRoot: false, into: &batch) }
            case .regularFile:
                batch.add(.fileAppeared(entry.path))
            case .other(let kind):
                batch.add(.entrySkipped(entry.path, .notARegularFile(kind)))
            }
        }
    }

    private func forget(watch wd: Int32) {
        if let path = pathByWatch.removeValue(forKey: wd), watchByPath[path] == wd { watchByPath[path] = nil }
        watchCountValue.store(pathByWatch.count, ordering: .relaxed)
    }

    /// A directory moved or deleted: drop its watches and those below it.
    private func dropTree(_ path: String) {
        let prefix = path + "/"
        for (p, wd) in watchByPath where p == path || p.hasPrefix(prefix) {
            source.removeWatch(wd)
            watchByPath[p] = nil
            pathByWatch[wd] = nil
        }
        watchCountValue.store(pathByWatch.count, ordering: .relaxed)
    }

    /// Events of one read (or of `batchSize`), duplicates removed, order kept.
    private struct Batch {
        let out: AsyncStream<[WatchEvent]>.Continuation
        let stopping: () -> Bool
        var events: [WatchEvent] = []
        var seen: Set<WatchEvent> = []

        mutating func add(_ event: WatchEvent) {
            guard seen.insert(event).inserted else { return }
            events.append(event)
            if events.count >= RecursiveWatcher.batchSize { flush() }
        }

        /// Hands the batch over, waiting while the consumer's buffer is full. Fresh storage
        /// afterwards, not `removeAll(keepingCapacity:)`: the batch just yielded shares it.
        mutating func flush() {
            guard !events.isEmpty else { return }
            var pending = events
            events = []
            seen = []
            while true {
                switch out.yield(pending) {
                case .enqueued, .terminated:
                    return
                case .dropped(let batch):
                    if stopping() { return }
                    pending = batch
                    usleep(2_000)
                @unknown default:
                    return
                }
            }
        }
    }
}
