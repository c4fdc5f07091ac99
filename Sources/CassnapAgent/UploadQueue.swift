/// The in-memory face of the `pending` rows: paths waiting for a worker, without duplicates,
/// plus the claims that keep two links of one inode from uploading at once. The database is
/// the truth. At most `capacity` waiting paths are held in memory: past that, new paths stay
/// only as pending rows and are read back in rowid order as the queue drains, so a backlog of
/// a million files costs the same memory as one of four thousand.
actor UploadQueue {
    /// Pending rows after `rowid`, in rowid order: (rowid, path), at most `limit`.
    typealias Refill = @Sendable (_ afterRowID: Int64, _ limit: Int) async throws -> [(Int64, String)]

    private let capacity: Int
    private let refill: Refill
    private var items: [String] = []
    private var head = 0
    private var queued: Set<String> = []
    private var waiters: [CheckedContinuation<Wake, Never>] = []
    private var inFlight = 0
    private var delayed = DelayedPaths()
    private var closed = false
    private var finishWhenIdle = false
    /// Pending rows may exist that are not in memory: read them back before going idle.
    private var overflowed = false
    private var refilling = false
    /// The last rowid read back; 0 starts a pass from the first row.
    private var cursor: Int64 = 0
    /// Bumped whenever a pending path is left out of memory.
    private var overflowEpoch = 0
    /// `overflowEpoch` when the current pass started at the first row.
    private var passEpoch = 0
    private var passFromStart = false
    /// Identity being uploaded → paths parked until it is done.
    private var claims: [FileIdentity: [String]] = [:]

    private enum Wake {
        case path(String)
        case look
        case stop
    }

    init(capacity: Int = 4096, refill: @escaping Refill) {
        self.capacity = max(1, capacity)
        self.refill = refill
    }

    func add(_ paths: [String]) {
        for path in paths where !closed && !queued.contains(path) {
            if let waiter = waiters.popLast() {
                queued.insert(path)
                inFlight += 1
                waiter.resume(returning: .path(path))
            } else if items.count - head < capacity {
                queued.insert(path)
                items.append(path)
            } else {
                overflowed = true
                overflowEpoch += 1
            }
        }
    }

    /// Every pending row is to be read back from the database (start, reconcile), without
    /// loading them all at once.
    func rescanDatabase() {
        guard !closed else { return }
        overflowed = true
        overflowEpoch += 1
        cursor = 0
        passFromStart = false
        if let waiter = waiters.popLast() { waiter.resume(returning: .look) }
    }

    /// Queues again after `delay` (a young file, a retry); `runDelays()` brings it back.
    func add(_ path: String, after delay: Duration) {
        guard !closed else { return }
        let due = ContinuousClock.now + delay
        let wakesEarlier = delayed.earliest.map { due < $0 } ?? true
        delayed.insert(path, due: due)
        if wakesEarlier { wakeTimer() }
    }

    /// Moves delayed paths into the queue as they fall due, until the queue closes (or drains,
    /// with `finishWhenDrained`). Run by the shipper beside its workers.
    func runDelays() async {
        while !closed && !(finishWhenIdle && isIdle) {
            timerWoken = false
            guard let due = delayed.earliest else {
                await waitForTimerWake()
                continue
            }
            if due > .now {
                await sleep(until: due)
                continue
            }
            for path in delayed.popDue(at: .now) {
                queued.remove(path)
                add([path])
            }
            finishIfIdle()
        }
    }

    /// Sleeps until `due`, or less when an earlier delay, a close or the drain wakes the timer.
    private func sleep(until due: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: due, clock: .continuous) }
            group.addTask { await self.waitForTimerWake() }
            await group.next()
            group.cancelAll()
            wakeTimer()  // the waiter, if the sleep ended first
        }
    }

    private var timer: CheckedContinuation<Void, Never>?
    /// Set by a wake that came before the timer waited: the next wait returns at once.
    private var timerWoken = false

    private func waitForTimerWake() async {
        guard !timerWoken else { return }
        await withCheckedContinuation { timer = $0 }
    }

    private func wakeTimer() {
        timerWoken = true
        timer?.resume()
        timer = nil
    }

    /// The next path, or nil once closed (or idle, with `finishWhenIdle`).
    func next() async -> String? {
        while true {
            if let path = take() { return path }
            if overflowed && !refilling && !closed {
                await refillFromDatabase()
                continue
            }
            if closed || (finishWhenIdle && isIdle) { return nil }
            switch await withCheckedContinuation({ waiters.append($0) }) {
            case .path(let path): return path
            case .look: continue
            case .stop: return nil
            }
        }
    }

    /// Reads the next window of pending rows that are not already held. Overflow ends only
    /// after a pass from the first row to the last found nothing new and nothing overflowed
    /// meanwhile.
    private func refillFromDatabase() async {
        refilling = true
        defer { refilling = false }
        while overflowed && !closed {
            if cursor == 0 && !passFromStart {
                passFromStart = true
                passEpoch = overflowEpoch
            }
            let rows: [(Int64, String)]
            do { rows = try await refill(cursor, capacity) } catch {
                // The periodic reconcile rescans the database; nothing pending is forgotten.
                overflowed = false
                passFromStart = false
                cursor = 0
                finishIfIdle()
                return
            }
            if let last = rows.last { cursor = last.0 }
            let atEnd = rows.count < capacity
            if atEnd { cursor = 0 }
            let fresh = rows.map(\.1).filter { !queued.contains($0) }
            if !fresh.isEmpty {
                if atEnd { passFromStart = false }
                add(fresh)
                return
            }
            if !atEnd { continue }
            if passFromStart && passEpoch == overflowEpoch {
                overflowed = false
                passFromStart = false
                finishIfIdle()
                return
            }
            passFromStart = false
        }
    }

    private func take() -> String? {
        guard head < items.count else { return nil }
        let path = items[head]
        head += 1
        if head > 4096 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        inFlight += 1
        return path
    }

    /// A worker finished with `path` (its row is no longer pending, or it was parked).
    func done(_ path: String) {
        inFlight -= 1
        queued.remove(path)
        finishIfIdle()
    }

    /// Whether a worker may upload a path now.
    enum Claim: Equatable {
        /// The worker holds the path's identity and key until `release`.
        case claimed
        /// Another worker is uploading the same inode: the path waits for its `release` (the
        /// worker is then done with it and must not call `done`).
        case parked
        /// Another worker is writing the same key (generation reuse): try again later.
        case keyBusy
    }

    /// Claims `identity` and its primary object key for upload: one writer per inode, and one
    /// per key, so two files reusing one name never race to it.
    func claim(_ identity: FileIdentity, key: String, path: String) -> Claim {
        if claims[identity] != nil {
            claims[identity]!.append(path)
            inFlight -= 1
            return .parked
        }
        guard reservedKeys.insert(key).inserted else { return .keyBusy }
        claims[identity] = []
        return .claimed
    }

    /// A worker finished with `path` and its claim: the parked links are queued again (they
    /// now find the object).
    func done(_ path: String, releasing identity: FileIdentity, key: String) {
        reservedKeys.remove(key)
        let parked = claims.removeValue(forKey: identity) ?? []
        for path in parked { queued.remove(path) }
        add(parked)
        done(path)
    }

    private var reservedKeys: Set<String> = []

    var isIdle: Bool {
        head >= items.count && inFlight == 0 && delayed.count == 0 && claims.isEmpty && !overflowed
    }

    /// Paths held in memory, in flight or delayed.
    var count: Int { items.count - head + inFlight + delayed.count }

    /// Whether pending rows wait in the database beyond those held in memory.
    var hasBacklogInDatabase: Bool { overflowed }

    /// From now on `next()` answers nil when nothing is queued, running or delayed.
    func finishWhenDrained() {
        finishWhenIdle = true
        finishIfIdle()
    }

    /// Stop handing out work; workers finish what they hold.
    func close() {
        closed = true
        wakeTimer()
        for waiter in waiters { waiter.resume(returning: .stop) }
        waiters.removeAll()
    }

    private func finishIfIdle() {
        guard finishWhenIdle, isIdle else { return }
        wakeTimer()
        for waiter in waiters { waiter.resume(returning: .stop) }
        waiters.removeAll()
    }
}
