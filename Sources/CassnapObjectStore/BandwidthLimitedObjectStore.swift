import Foundation
import Synchronization

/// Caps the upload rate of everything that goes through it at one shared number of bytes per
/// second, however many uploads run in parallel. It hooks the source's `throttle`, which the
/// transfer calls per chunk, so the limit holds inside one large streamed upload too.
package struct BandwidthLimitedObjectStore: ObjectStore {
    package let base: any ObjectStore
    package let limiter: TokenBucket
    package var displayName: String { base.displayName }

    package init(_ base: any ObjectStore, bytesPerSecond: Int64) {
        self.base = base
        limiter = TokenBucket(ratePerSecond: bytesPerSecond)
    }

    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        var throttled = source
        let inner = source.throttle
        let limiter = self.limiter
        throttled.throttle = { bytes in
            inner?(bytes)
            limiter.acquire(bytes)
        }
        return try await base.put(key: key, source: throttled, options: options)
    }

    package func head(key: String) async throws -> ObjectInfo { try await base.head(key: key) }
    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try await base.get(key: key, to: localPath)
    }
    package func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try await base.read(key: key, into: target)
    }
    package func list(prefix: String) async throws -> [ObjectInfo] { try await base.list(prefix: prefix) }
    package func listPages(prefix: String, _ page: ([ObjectInfo]) async throws -> Void) async throws {
        try await base.listPages(prefix: prefix, page)
    }
    package func delete(key: String) async throws { try await base.delete(key: key) }
    package func delete(keys: [String]) async throws { try await base.delete(keys: keys) }
}

/// A token bucket shared by threads. `acquire` blocks the calling (transfer) thread until the
/// bytes fit the rate; the burst is one second's worth.
package final class TokenBucket: Sendable {
    private struct State {
        var tokens: Double
        var last: ContinuousClock.Instant
    }

    package let rate: Double
    private let state: Mutex<State>

    package init(ratePerSecond: Int64) {
        precondition(ratePerSecond > 0, "bandwidth limit must be positive")
        rate = Double(ratePerSecond)
        state = Mutex(State(tokens: Double(ratePerSecond), last: .now))
    }

    package func acquire(_ bytes: Int) {
        let wait: Double = state.withLock { s in
            let now = ContinuousClock.now
            let elapsed = now - s.last
            s.last = now
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            s.tokens = min(rate, s.tokens + seconds * rate)
            s.tokens -= Double(bytes)  // may go negative: the debt is the caller's wait
            return s.tokens < 0 ? -s.tokens / rate : 0
        }
        if wait > 0 { usleep(useconds_t(min(wait, 60) * 1_000_000)) }
    }
}
