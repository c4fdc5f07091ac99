import Foundation

/// One HTTP request. Bodies stream from memory or straight from a file descriptor range, so
/// uploading a 100 GiB SSTable never holds more than curl's buffer in memory.
package struct HTTPRequest: Sendable {
    package enum Body: Sendable {
        case none
        case bytes([UInt8])
        /// `length` bytes of an open file starting at `offset`; read with `pread`, so the caller's
        /// file offset is untouched and one descriptor can feed several parts in parallel.
        case file(fd: Int32, offset: Int64, length: Int64)

        package var length: Int64 {
            switch self {
            case .none: 0
            case .bytes(let b): Int64(b.count)
            case .file(_, _, let length): length
            }
        }
    }

    /// Where the response body goes: memory (capped, for XML/JSON answers) or a file descriptor.
    package enum Sink: Sendable {
        case memory(limit: Int)
        case file(fd: Int32)
        /// Each chunk as it arrives, on the transfer's thread; answering false aborts the
        /// transfer (a local write failed). Object stores write and hash through this.
        case stream(@Sendable (UnsafeRawBufferPointer) -> Bool)
    }

    package var method: String
    package var url: String
    package var headers: [(name: String, value: String)]
    package var body: Body
    package var sink: Sink
    /// Called with each body chunk's size before curl sends it; a bandwidth limiter blocks here.
    /// It runs on the transfer thread, so sleeping is fine.
    package var throttle: (@Sendable (Int) -> Void)?
    /// The whole transfer's limit, replacing the client's `totalTimeout` for this request: a
    /// small request on a kept-alive connection to a peer that went silent fails after this,
    /// not after the low-speed limit's half a minute.
    package var timeout: Duration?

    package init(
        method: String, url: String, headers: [(name: String, value: String)] = [], body: Body = .none,
        sink: Sink = .memory(limit: 16 << 20), throttle: (@Sendable (Int) -> Void)? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.sink = sink
        self.throttle = throttle
    }
}

package struct HTTPResponse: Sendable {
    package var status: Int
    /// Header names are lower-cased; a repeated header keeps its last value.
    package var headers: [String: String]
    package var body: [UInt8]
    /// Bytes written to a `.file` or `.stream` sink.
    package var bytesWritten: Int64

    package func header(_ name: String) -> String? { headers[name.lowercased()] }
    package var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Knobs for the libcurl transport. Defaults suit object stores on a LAN or in the cloud.
package struct HTTPClientConfiguration: Sendable {
    package var connectTimeout: Duration = .seconds(10)
    /// A cap on the whole transfer; nil for none (uploads of large objects take long).
    package var totalTimeout: Duration? = nil
    /// Abort a transfer slower than `lowSpeedLimit` bytes/s for `lowSpeedTime` (a stalled peer).
    package var lowSpeedLimit: Int = 1024
    package var lowSpeedTime: Duration = .seconds(30)
    /// TLS peer and host verification; only tests against self-signed servers turn it off.
    package var verifyTLS: Bool = true
    package var caBundlePath: String? = nil
    /// Idle handles kept for connection reuse.
    package var maxIdleHandles: Int = 16
    package var userAgent: String = "cassnap/0.1"

    package init() {}
}

package enum HTTPError: Error, CustomStringConvertible, Sendable {
    /// A failure below HTTP: DNS, connect, TLS, timeouts, resets. `retryable` follows curl's code.
    case transport(url: String, code: Int32, message: String, retryable: Bool)
    case responseTooLarge(url: String, limit: Int)
    case invalidRequest(String)

    package var isRetryable: Bool {
        if case .transport(_, _, _, let r) = self { return r }
        return false
    }

    package var description: String {
        switch self {
        case .transport(let url, let code, let message, _):
            "HTTP transport error for \(HTTPError.redact(url)): \(message) (curl code \(code))"
        case .responseTooLarge(let url, let limit):
            "response from \(HTTPError.redact(url)) exceeds the \(limit)-byte limit for in-memory bodies"
        case .invalidRequest(let why): "invalid HTTP request: \(why)"
        }
    }

    /// Query strings can carry signatures or tokens; keep them out of error text and logs.
    package static func redact(_ url: String) -> String {
        guard let q = url.firstIndex(of: "?") else { return url }
        return String(url[..<q]) + "?…"
    }
}
