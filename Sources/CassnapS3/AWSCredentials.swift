import Foundation

/// An access key pair, with a session token and expiry for temporary credentials.
/// `description` never shows the secret or the token.
package struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    package var accessKeyId: String
    package var secretAccessKey: String
    package var sessionToken: String?
    /// When temporary credentials stop working; nil for long-lived keys.
    package var expiration: Date?
    /// Which provider produced them, for error messages ("environment", "profile default", ...).
    package var source: String

    package init(
        accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil,
        source: String = "static"
    ) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    package var description: String {
        var text = "AWSCredentials(accessKeyId: \(accessKeyId), secretAccessKey: <redacted>"
        if sessionToken != nil { text += ", sessionToken: <redacted>" }
        if let expiration { text += ", expiration: \(expiration)" }
        return text + ", source: \(source))"
    }

    package var debugDescription: String { description }

    /// True when the credentials expire within `margin` of `now`.
    package func expires(within margin: TimeInterval, now: Date = Date()) -> Bool {
        guard let expiration else { return false }
        return expiration.timeIntervalSince(now) <= margin
    }
}

/// Why credentials could not be found or fetched. Messages name places, never secrets.
package enum AWSCredentialsError: Error, CustomStringConvertible, Sendable {
    /// This provider has nothing configured (no variables, no file, no profile); the chain moves on.
    case notConfigured(provider: String, reason: String)
    /// The provider is configured but its answer is unusable (bad file, bad JSON, HTTP 4xx).
    case invalid(provider: String, reason: String)
    /// The provider's service could not be reached or failed temporarily (metadata endpoint down).
    case unavailable(provider: String, reason: String)
    /// No provider in the chain had credentials.
    case noCredentials(tried: [String])

    package var isRetryable: Bool {
        if case .unavailable = self { return true }
        return false
    }

    package var description: String {
        switch self {
        case .notConfigured(let provider, let reason): "\(provider): not configured (\(reason))"
        case .invalid(let provider, let reason): "\(provider): \(reason)"
        case .unavailable(let provider, let reason): "\(provider): temporarily unavailable: \(reason)"
        case .noCredentials(let tried):
            "no AWS credentials found; tried " + tried.joined(separator: "; ")
        }
    }
}
