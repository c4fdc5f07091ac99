import Foundation

/// Retries another store's calls on transient failures (5xx, 429, timeouts, resets, checksum
/// mismatches in transit) with exponential backoff and full jitter. Never retries what cannot
/// get better: wrong credentials, a missing bucket, a missing object, a bad key.
package struct RetryingObjectStore: ObjectStore {
    package struct Policy: Sendable {
        package var maxAttempts = 6
        package var baseDelay: Duration = .milliseconds(200)
        package var maxDelay: Duration = .seconds(20)

        package init(
            maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(20)
        ) {
            self.maxAttempts = maxAttempts
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
        }

        /// The wait before attempt `attempt + 1`: uniform in [0, min(max, base * 2^attempt)].
        package func delay(afterAttempt attempt: Int) -> Duration {
            let cap = min(maxDelay, baseDelay * Int(pow(2.0, Double(min(attempt, 30)))))
            let nanos = cap.components.seconds * 1_000_000_000 + cap.components.attoseconds / 1_000_000_000
            return .nanoseconds(Int64.random(in: 0...max(0, nanos)))
        }
    }

    /// Called before each retry with the operation, key, error and attempt number, for logs.
    package typealias RetryObserver =
        @Sendable (_ operation: String, _ key: String, _ error: any Error, _ attempt: Int) -> Void

    package let base: any ObjectStore
    package let policy: Policy
    private let onRetry: RetryObserver?
    package var displayName: String { base.displayName }

    package init(_ base: any ObjectStore, policy: Policy = Policy(), onRetry: RetryObserver? = nil) {
        self.base = base
        self.policy = policy
        self.onRetry = onRetry
    }

    /// Whether an error from any layer is worth another attempt.
    package static func isRetryable(_ error: any Error) -> Bool {
        if let e = error as? ObjectStoreError { return e.isRetryable }
        if let e = error as? any RetryClassifiable { return e.isRetryable }
        return false
    }

    private func attempt<T: Sendable>(_ operation: String, _ key: String, _ body: () async throws -> T)
        async throws -> T
    {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch {
                attempt += 1
                guard attempt < policy.maxAttempts, Self.isRetryable(error), !Task.isCancelled else {
                    throw error
                }
                onRetry?(operation, key, error, attempt)
                try await Task.sleep(for: policy.delay(afterAttempt: attempt - 1))
            }
        }
    }

    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try await attempt("put", key) { try await base.put(key: key, source: source, options: options) }
    }

    package func head(key: String) async throws -> ObjectInfo {
        try await attempt("head", key) { try await base.head(key: key) }
    }

    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try await attempt("get", key) { try await base.get(key: key, to: localPath) }
    }

    /// Safe to retry: `read` writes with `pwrite` at fixed offsets, so an attempt rewrites the
    /// same bytes.
    package func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try await attempt("get", key) { try await base.read(key: key, into: target) }
    }

    package func list(prefix: String) async throws -> [ObjectInfo] {
        try await attempt("list", prefix) { try await base.list(prefix: prefix) }
    }

    package func listPages(prefix: String, _ page: ([ObjectInfo]) async throws -> Void) async throws {
        try await attempt("list", prefix) { try await base.listPages(prefix: prefix, page) }
    }

    package func delete(key: String) async throws {
        try await attempt("delete", key) { try await base.delete(key: key) }
    }

    package func delete(keys: [String]) async throws {
        try await attempt("delete", keys.first ?? "") { try await base.delete(keys: keys) }
    }
}

/// Errors from lower layers (HTTP transport) that know whether a retry can help.
package protocol RetryClassifiable: Error {
    var isRetryable: Bool { get }
}
