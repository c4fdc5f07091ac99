import Foundation

/// Lets at most `limit` calls into the wrapped store run at once; the rest wait in FIFO order.
package struct ConcurrencyLimitedObjectStore: ObjectStore {
    package let base: any ObjectStore
    private let semaphore: AsyncSemaphore
    package var displayName: String { base.displayName }

    package init(_ base: any ObjectStore, limit: Int) {
        precondition(limit > 0, "concurrency limit must be positive")
        self.base = base
        semaphore = AsyncSemaphore(limit: limit)
    }

    private func limited<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await semaphore.wait()
        do {
            let result = try await body()
            await semaphore.signal()
            return result
        } catch {
            await semaphore.signal()
            throw error
        }
    }

    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try await limited { try await base.put(key: key, source: source, options: options) }
    }
    package func head(key: String) async throws -> ObjectInfo {
        try await limited { try await base.head(key: key) }
    }
    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try await limited { try await base.get(key: key, to: localPath) }
    }
    package func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try await limited { try await base.read(key: key, into: target) }
    }
    package func list(prefix: String) async throws -> [ObjectInfo] {
        try await limited { try await base.list(prefix: prefix) }
    }
    package func listPages(prefix: String, _ page: ([ObjectInfo]) async throws -> Void) async throws {
        try await limited { try await base.listPages(prefix: prefix, page) }
    }
    package func delete(key: String) async throws { try await limited { try await base.delete(key: key) } }
    package func delete(keys: [String]) async throws {
        try await limited { try await base.delete(keys: keys) }
    }

    /// How many calls run right now (for tests and metrics).
    package var inFlight: Int { get async { await semaphore.inUse } }
}

package actor AsyncSemaphore {
    private let limit: Int
    private(set) var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package init(limit: Int) { self.limit = limit }

    package func wait() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    package func signal() {
        if waiters.isEmpty {
            inUse -= 1
        } else {
            waiters.removeFirst().resume()  // the slot passes straight to the next waiter
        }
    }
}
