import Foundation

/// Dedicated threads for work that blocks: libcurl transfers, hashing, file I/O.
///
/// Neither Swift's cooperative pool nor libdispatch's global queues may be blocked for long: both
/// are sized to the cores, and on Linux libdispatch adds a thread for blocked workers only about
/// once a second (measured here: 16 two-second sleeps on a concurrent queue took 7 s on 2 cores).
/// A long-poll or a retry back-off then starves every other transfer in the process. Here every
/// job gets a thread of its own at once; idle threads are kept for reuse and end after a while.
package final class BlockingThreads: @unchecked Sendable {
    package static let shared = BlockingThreads()

    /// Guards `jobs` and `waiting`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var waiting = 0
    private let idleLifetime: TimeInterval

    package init(idleLifetime: TimeInterval = 30) {
        self.idleLifetime = idleLifetime
    }

    /// Runs `work` on a thread of its own and returns its result.
    package func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Starts `job` on an idle thread, or on a new one when none is idle.
    package func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let reuse = waiting >= jobs.count
        if reuse { condition.signal() }
        condition.unlock()
        if !reuse {
            let thread = Thread { [self] in work() }
            thread.name = "cassnap.blocking"
            thread.start()
        }
    }

    private func work() {
        condition.lock()
        while true {
            while jobs.isEmpty {
                waiting += 1
                let signalled = condition.wait(until: Date(timeIntervalSinceNow: idleLifetime))
                waiting -= 1
                if !signalled && jobs.isEmpty {
                    condition.unlock()
                    return
                }
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
