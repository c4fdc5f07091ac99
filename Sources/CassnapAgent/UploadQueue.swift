/// The in-memory face of the `pending` rows: paths waiting for a worker, without duplicates,
/// plus the claims that keep two links of one inode from uploading at once. The database is
/// the truth; on start every pending row is queued again.
actor UploadQueue {
    private var items: [String] = []
    private var head = 0
    private var queued: Set<String> = []
    private var waiters: [CheckedContinuation<String?, Never>] = []
    private var inFlight = 0
    private var delayed = 0
    private var closed = false
    private var finishWhenIdle = false
    /// Identity being uploaded → paths parked until it is done.
    private var claims: [FileIdentity: [String]] = [:]

    func add(_ paths: [String]) {
        for path in paths where !closed && queued.insert(path).inserted {
            if let waiter = waiters.popLast() {
                inFlight += 1
                waiter.resume(returning: path)
            } else {
                items.append(path)
            }
        }
    }

    /// Queues again after `delay` (a young file, a retry).
    func add(_ path: String, after delay: Duration) {
        guard !closed else { return }
        delayed += 1
        Task {
            try? await Task.sleep(for: delay)
            self.delayedArrived(path)
        }
    }

    private func delayedArrived(_ path: String) {
        delayed -= 1
        queued.remove(path)
        add([path])
        finishIfIdle()
    }

    /// The next path, or nil once closed (or idle, with `finishWhenIdle`).
    func next() async -> String? {
        if let path = take() { return path }
        if closed || (finishWhenIdle && isIdle) { return nil }
        return await withCheckedContinuation { waiters.append($0) }
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

    /// Claims `identity` for upload; false parks `path` until the owner releases it (the
    /// worker is then done with it and must not call `done`).
    func claim(_ identity: FileIdentity, path: String) -> Bool {
        if claims[identity] != nil {
            claims[identity]!.append(path)
            inFlight -= 1
            return false
        }
        claims[identity] = []
        return true
    }

    /// Releases a claim and queues the parked links again (they now find the object).
    func release(_ identity: FileIdentity) {
        let parked = claims.removeValue(forKey: identity) ?? []
        for path in parked { queued.remove(path) }
        add(parked)
    }

    private var reservedKeys: Set<String> = []

    /// One writer per primary object key, so two files reusing one name never race to it.
    func reserveKey(_ key: String) -> Bool { reservedKeys.insert(key).inserted }

    func releaseKey(_ key: String) { reservedKeys.remove(key) }

    var isIdle: Bool { head >= items.count && inFlight == 0 && delayed == 0 && claims.isEmpty }

    var count: Int { items.count - head + inFlight + delayed }

    /// From now on `next()` answers nil when nothing is queued, running or delayed.
    func finishWhenDrained() {
        finishWhenIdle = true
        finishIfIdle()
    }

    /// Stop handing out work; workers finish what they hold.
    func close() {
        closed = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }

    private func finishIfIdle() {
        guard finishWhenIdle, isIdle else { return }
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }
}
