/// Paces the warnings of one retry loop (poll, heartbeat, delivery): the first failure of a
/// streak warns, then at most one warning per `interval`, carrying the failures since the
/// previous one, so a coordinator down for a day costs a line a minute, not one a second.
struct FailureStreak: Sendable {
    let interval: Duration
    private var failures = 0
    private var sinceWarning = 0
    private var started: ContinuousClock.Instant?
    private var warned: ContinuousClock.Instant?

    init(interval: Duration) { self.interval = interval }

    /// Counts a failure; when a warning is due, returns the failures it should report.
    mutating func failed(at now: ContinuousClock.Instant = .now) -> Int? {
        failures += 1
        sinceWarning += 1
        if started == nil { started = now }
        if let warned, now - warned < interval { return nil }
        warned = now
        defer { sinceWarning = 0 }
        return sinceWarning
    }

    /// Ends the streak; returns how many failures it had and how long it lasted, if any.
    mutating func succeeded(at now: ContinuousClock.Instant = .now) -> (failures: Int, duration: Duration)? {
        guard let started else { return nil }
        defer { self = FailureStreak(interval: interval) }
        return (failures, now - started)
    }
}
