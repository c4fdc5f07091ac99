import CassnapCore
import Foundation
import Synchronization

/// An HTTP client over libcurl with a pool of easy handles (one per concurrent transfer, kept
/// for connection reuse). Transfers block a thread, so each runs on one of `BlockingThreads`.
package final class CurlHTTPClient: Sendable {
    package let configuration: HTTPClientConfiguration
    private let idle = Mutex<[CurlEasyBox]>([])

    package init(configuration: HTTPClientConfiguration = .init()) {
        self.configuration = configuration
    }

    /// Runs the request on the calling thread. Proxies follow libcurl's environment rules
    /// (`HTTPS_PROXY`, `https_proxy`, `NO_PROXY`).
    package func performBlocking(_ request: HTTPRequest, cancellation: TransferCancellation? = nil) throws
        -> HTTPResponse
    {
        let box = idle.withLock { $0.popLast() } ?? CurlEasyBox(CurlEasy(configuration: configuration))
        let result = Result { try box.easy.perform(request, cancellation: cancellation) }
        idle.withLock { pool in
            if pool.count < configuration.maxIdleHandles { pool.append(box) }
        }
        return try result.get()
    }

    /// The transfer runs on a blocking thread; cancelling the calling task aborts it (within
    /// about a second, from libcurl's progress callback) and throws `CancellationError`.
    package func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await perform { (request, ()) }.response
    }

    /// Builds the request and runs it on one blocking thread, so that work the request needs
    /// first (hashing the body it sends, signing) costs no thread hand-off of its own.
    /// `prepare` may throw; `context` is whatever of its work the caller needs afterwards.
    package func perform<Context: Sendable>(
        preparing prepare: @escaping @Sendable () throws -> (HTTPRequest, Context)
    ) async throws -> (response: HTTPResponse, context: Context) {
        let cancellation = TransferCancellation()
        return try await withTaskCancellationHandler {
            try Task.checkCancellation()
            return try await BlockingThreads.shared.run {
                let (request, context) = try prepare()
                if cancellation.isCancelled { throw CancellationError() }
                return (try self.performBlocking(request, cancellation: cancellation), context)
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}

/// Set once by a cancelled task, read by libcurl's progress callback on the transfer thread.
package final class TransferCancellation: Sendable {
    private let cancelled = Atomic<Bool>(false)
    package init() {}
    package func cancel() { cancelled.store(true, ordering: .relaxed) }
    package var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}

/// A handle is used by one transfer at a time; the pool's mutex hands it over between threads.
private final class CurlEasyBox: @unchecked Sendable {
    let easy: CurlEasy
    init(_ easy: CurlEasy) { self.easy = easy }
}
