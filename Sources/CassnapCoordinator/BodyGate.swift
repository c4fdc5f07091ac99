/// Bounds how many request bodies are buffered and decoded at once, so that many large bodies
/// in parallel cost `permits × limit` bytes at most instead of growing with the number of
/// clients. Waiters are served in arrival order; a waiting request reads nothing from its
/// socket, so TCP backpressure holds the rest of its body at the sender.
package actor BodyGate {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package init(permits: Int) {
        precondition(permits > 0)
        available = permits
    }

    /// Runs `body` holding one permit.
    package func withPermit<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
