import Foundation
import Synchronization

/// Wakes long-polling agents when commands are queued. A poller notes `generation`, looks for
/// its commands, and if it found none waits for the next `ring()` (or its deadline): no
/// polling loop, and a new snapshot reaches every waiting agent at once.
package final class CommandSignal: Sendable {
    private struct State {
        var generation = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    package init() {}

    package var generation: Int { state.withLock { $0.generation } }

    /// Commands changed: every waiter wakes.
    package func ring() {
        let woken = state.withLock { s in
            s.generation += 1
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns once the generation is no longer `seen`, at `deadline`, or when the task is
    /// cancelled, whichever comes first.
    package func wait(past seen: Int, until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForRing(past: seen) }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing(past seen: Int) async {
        let id = state.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    if s.generation != seen || Task.isCancelled { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
