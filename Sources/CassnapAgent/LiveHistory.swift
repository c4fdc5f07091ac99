import Foundation

/// Since when, and through when, the agent's live-SSTable events (`appeared`, `disappeared`)
/// are complete: they begin once the watcher's first listing is recorded and removals missed
/// while the agent was down are closed, and they restart after an inotify overflow the same
/// way. Out of inotify watches, the history ends until the agent restarts. `restore --at T`
/// is refused for any T outside such a stretch, since an SSTable created and compacted away
/// while nobody watched would be silently missing.
struct LiveHistory: Sendable, Hashable {
    private(set) var since: Date?
    /// The latest instant before which every change is recorded (not yet delivered: the
    /// heartbeat clips it to the oldest event still in the outbox).
    var through: Date?
    private(set) var ended = false

    mutating func begin(at instant: Date) {
        since = instant
        through = nil
    }

    mutating func interrupt() {
        since = nil
        through = nil
    }

    mutating func end() {
        interrupt()
        ended = true
    }

    /// `[since, through]` when both are known and in order.
    var interval: (since: Date, through: Date)? {
        guard let since, let through, through >= since else { return nil }
        return (since, through)
    }
}
