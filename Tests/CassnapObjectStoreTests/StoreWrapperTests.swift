import CassnapObjectStore
import Foundation
import Synchronization
import Testing

/// A store that fails its first calls with a chosen error, then delegates: fault injection for
/// the wrappers (the real-server faults are in StoreFaultInjectionTests).
final class FlakyStore: ObjectStore, Sendable {
    let base = InMemoryObjectStore()
    let failures: Mutex<[ObjectStoreError]>
    let calls = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    let maxInFlight = Atomic<Int>(0)
    var displayName: String { "flaky://" }

    init(failing: [ObjectStoreError] = []) { failures = Mutex(failing) }

    private func step() async throws {
        calls.add(1, ordering: .relaxed)
        let now = inFlight.add(1, ordering: .relaxed).newValue
        defer { inFlight.subtract(1, ordering: .relaxed) }
        _ = maxInFlight.max(now, ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(20))
        if let error = failures.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw error }
    }

    func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try await step()
        return try await base.put(key: key, source: source, options: options)
    }
    func head(key: String) async throws -> ObjectInfo {
        try await step()
        return try await base.head(key: key)
    }
    func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try await step()
        return try await base.get(key: key, to: localPath)
    }
    func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try await step()
        return try await base.read(key: key, into: target)
    }
    func list(prefix: String) async throws -> [ObjectInfo] {
        try await step()
        return try await base.list(prefix: prefix)
    }
    func delete(key: String) async throws {
        try await step()
        try await base.delete(key: key)
    }
    func delete(keys: [String]) async throws {
        try await step()
        try await base.delete(keys: keys)
    }
}

@Suite struct StoreWrapperTests {
    let fast = RetryingObjectStore.Policy(
        maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))

    @Test func transientFailuresAreRetriedUntilSuccess() async throws {
        let flaky = FlakyStore(failing: [
            .transient(store: "f", detail: "503"),
            .checksumMismatch(store: "f", key: "k", expected: "a", actual: "b"),
        ])
        let store = RetryingObjectStore(flaky, policy: fast)
        _ = try await store.put(key: "k", source: .string("v"))
        #expect(flaky.calls.load(ordering: .relaxed) == 3)
        #expect(try await flaky.base.head(key: "k").size == 1)
    }

    @Test(arguments: [
        ObjectStoreError.accessDenied(store: "f", bucket: "b", detail: "InvalidAccessKeyId"),
        .noSuchBucket(store: "f", bucket: "b"), .notFound(store: "f", key: "k"),
        .permanent(store: "f", detail: "400"),
    ])
    func permanentFailuresAreNotRetried(error: ObjectStoreError) async throws {
        let flaky = FlakyStore(failing: [error])
        let store = RetryingObjectStore(flaky, policy: fast)
        await #expect(throws: ObjectStoreError.self) { try await store.put(key: "k", source: .string("v")) }
        #expect(flaky.calls.load(ordering: .relaxed) == 1)
    }

    @Test func retriesStopAtTheLimit() async throws {
        let flaky = FlakyStore(failing: Array(repeating: .transient(store: "f", detail: "503"), count: 10))
        let seen = Mutex<[Int]>([])
        let store = RetryingObjectStore(flaky, policy: fast) { _, _, _, attempt in
            seen.withLock { $0.append(attempt) }
        }
        await #expect(throws: ObjectStoreError.self) { try await store.head(key: "k") }
        #expect(flaky.calls.load(ordering: .relaxed) == 4)
        #expect(seen.withLock { $0 } == [1, 2, 3])
    }

    @Test func backoffGrowsAndStaysUnderTheCap() {
        let policy = RetryingObjectStore.Policy(
            maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        for attempt in 0..<10 {
            let cap = min(Duration.seconds(1), .milliseconds(100) * (1 << attempt))
            for _ in 0..<20 { #expect(policy.delay(afterAttempt: attempt) <= cap) }
        }
    }

    @Test func concurrencyLimitHolds() async throws {
        let flaky = FlakyStore()
        let store = ConcurrencyLimitedObjectStore(flaky, limit: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask { _ = try await store.put(key: "k\(i)", source: .string("\(i)")) }
            }
            try await group.waitForAll()
        }
        #expect(flaky.maxInFlight.load(ordering: .relaxed) <= 3)
        #expect(flaky.maxInFlight.load(ordering: .relaxed) >= 2, "the limit should not serialize everything")
        #expect(try await flaky.base.list(prefix: "k").count == 20)
    }

    /// A lower bound only: a loaded machine can make it slower, never faster.
    @Test func bandwidthLimitIsSharedByParallelUploads() async throws {
        let store = BandwidthLimitedObjectStore(InMemoryObjectStore(), bytesPerSecond: 1 << 20)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<3 {
                group.addTask {
                    let source = ObjectSource.bytes([UInt8](repeating: UInt8(i), count: 1 << 20))
                    _ = try await store.put(key: "b\(i)", source: source)
                }
            }
            try await group.waitForAll()
        }
        // 3 MiB at 1 MiB/s with a 1 MiB burst: at least ~2 s.
        #expect(ContinuousClock.now - start >= .milliseconds(1900))
    }
}
