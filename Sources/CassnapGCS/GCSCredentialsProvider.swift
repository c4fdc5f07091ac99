import CassnapHTTP
import Foundation

/// Where the GCS store gets its `Authorization` header. Implementations cache tokens and refresh
/// them before they expire; none of them ever puts a token or key into an error or a log line.
package protocol GCSCredentialsProvider: Sendable {
    /// The `Authorization` header value, or nil when the server wants none (an emulator).
    func authorization() async throws -> String?
    /// Forgets a cached token after the API answered 401, so the next call fetches a new one.
    func invalidate() async
}

extension GCSCredentialsProvider {
    package func invalidate() async {}
}

/// No credentials: the `STORAGE_EMULATOR_HOST` convention (fake-gcs-server and friends).
package struct GCSAnonymousCredentials: GCSCredentialsProvider {
    package init() {}
    package func authorization() async throws -> String? { nil }
}

/// A fixed bearer token (e.g. from `gcloud auth print-access-token`), mainly for tools and tests.
package struct GCSStaticTokenCredentials: GCSCredentialsProvider {
    private let token: String
    package init(token: String) { self.token = token }
    package func authorization() async throws -> String? { "Bearer \(token)" }
}

/// An OAuth2 access token and when it stops working.
package struct GCSAccessToken: Sendable, Equatable {
    package var token: String
    package var expiresAt: Date

    package init(token: String, expiresAt: Date) {
        self.token = token
        self.expiresAt = expiresAt
    }

    /// Parses a token endpoint's (or the metadata server's) JSON answer.
    static func parse(_ body: [UInt8], now: Date, source: String) throws -> GCSAccessToken {
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let token = json["access_token"] as? String, !token.isEmpty
        else {
            throw GCSCredentialsError.tokenRequestFailed(
                source: source, status: 200, detail: "answer has no access_token")
        }
        let lifetime = (json["expires_in"] as? NSNumber)?.doubleValue ?? 3600
        return GCSAccessToken(token: token, expiresAt: now.addingTimeInterval(lifetime))
    }
}

/// Caches one token and fetches a new one shortly before the old one expires: with five minutes
/// to go, or at half its lifetime for short-lived tokens. Concurrent callers share one fetch.
actor GCSTokenCache {
    private let fetch: @Sendable () async throws -> GCSAccessToken
    private let clock: @Sendable () -> Date
    private var current: (token: GCSAccessToken, fetchedAt: Date)?
    private var inFlight: Task<GCSAccessToken, any Error>?

    init(clock: @escaping @Sendable () -> Date, fetch: @escaping @Sendable () async throws -> GCSAccessToken)
    {
        self.clock = clock
        self.fetch = fetch
    }

    func token() async throws -> GCSAccessToken {
        let now = clock()
        if let current {
            let lifetime = current.token.expiresAt.timeIntervalSince(current.fetchedAt)
            let margin = min(300, lifetime / 2)
            if current.token.expiresAt.timeIntervalSince(now) > margin { return current.token }
        }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await fetch() }
        inFlight = task
        defer { inFlight = nil }
        let token = try await task.value
        current = (token, now)
        return token
    }

    func invalidate() { current = nil }
}

package enum GCSCredentialsError: Error, CustomStringConvertible, Sendable {
    /// The key file is missing, unreadable or not a key we understand. Never quotes its content.
    case invalidKeyFile(path: String, reason: String)
    /// The token endpoint or metadata server refused or failed. `detail` is the OAuth error code
    /// or message, never the assertion or a token.
    case tokenRequestFailed(source: String, status: Int, detail: String)
    /// The token endpoint or metadata server could not be reached.
    case unreachable(source: String, detail: String, retryable: Bool)

    package var isRetryable: Bool {
        switch self {
        case .invalidKeyFile: false
        case .tokenRequestFailed(_, let status, _): status >= 500 || status == 429
        case .unreachable(_, _, let retryable): retryable
        }
    }

    package var description: String {
        switch self {
        case .invalidKeyFile(let path, let reason): "GCS credentials file \(path): \(reason)"
        case .tokenRequestFailed(let source, let status, let detail):
            "GCS access token from \(source) failed (HTTP \(status)): \(detail)"
        case .unreachable(let source, let detail, _): "GCS access token from \(source) unavailable: \(detail)"
        }
    }
}

/// Sends a token request and maps failures to `GCSCredentialsError`, keeping secrets out.
func requestToken(_ client: CurlHTTPClient, _ request: HTTPRequest, source: String, now: Date) async throws
    -> GCSAccessToken
{
    let response: HTTPResponse
    do {
        response = try await client.perform(request)
    } catch let error as HTTPError {
        throw GCSCredentialsError.unreachable(
            source: source, detail: error.description, retryable: error.isRetryable)
    }
    guard response.status == 200 else {
        throw GCSCredentialsError.tokenRequestFailed(
            source: source, status: response.status, detail: oauthErrorDetail(response.body))
    }
    return try GCSAccessToken.parse(response.body, now: now, source: source)
}

/// The `error` / `error_description` of an OAuth error answer, short and secret-free.
private func oauthErrorDetail(_ body: [UInt8]) -> String {
    if let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] {
        let code = json["error"] as? String ?? ""
        let description = json["error_description"] as? String ?? ""
        let text = [code, description].filter { !$0.isEmpty }.joined(separator: ": ")
        if !text.isEmpty { return String(text.prefix(300)) }
    }
    return "unexpected answer"
}
