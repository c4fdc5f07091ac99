import CassnapHTTP
import Foundation
import Synchronization

/// Something that hands out AWS credentials: fixed keys, the environment, the shared files,
/// the container endpoint, the EC2 instance metadata service, or a chain of those.
package protocol AWSCredentialsProvider: Sendable {
    /// A short name for errors and logs ("environment", "profile prod", ...).
    var name: String { get }
    func credentials() async throws -> AWSCredentials
}

/// Keys given in the configuration.
package struct StaticCredentialsProvider: AWSCredentialsProvider {
    package let name = "static configuration"
    private let value: AWSCredentials

    package init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        value = AWSCredentials(
            accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, sessionToken: sessionToken,
            source: name)
    }

    package func credentials() async throws -> AWSCredentials { value }
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
package struct EnvironmentCredentialsProvider: AWSCredentialsProvider {
    package let name = "environment variables"
    private let environment: [String: String]

    package init(environment: [String: String]) { self.environment = environment }

    package func credentials() async throws -> AWSCredentials {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        guard let id = value("AWS_ACCESS_KEY_ID") else {
            throw AWSCredentialsError.notConfigured(provider: name, reason: "AWS_ACCESS_KEY_ID is not set")
        }
        guard let secret = value("AWS_SECRET_ACCESS_KEY") else {
            throw AWSCredentialsError.invalid(
                provider: name, reason: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"), source: name)
    }
}

/// A profile in `~/.aws/credentials` (`[name]`) or `~/.aws/config` (`[profile name]`); the
/// credentials file wins where both define keys, as in the AWS SDKs.
package struct ProfileCredentialsProvider: AWSCredentialsProvider {
    package let files: AWSSharedFiles
    package var name: String { "profile \(files.profile) (\(files.credentialsPath), \(files.configPath))" }

    package init(files: AWSSharedFiles) { self.files = files }
    package init(environment: [String: String]) { files = AWSSharedFiles(environment: environment) }

    package func credentials() async throws -> AWSCredentials {
        let credentialsFile = try AWSConfigFile.load(path: files.credentialsPath, isConfigFile: false)
        let configFile = try AWSConfigFile.load(path: files.configPath, isConfigFile: true)
        if credentialsFile == nil && configFile == nil {
            throw AWSCredentialsError.notConfigured(provider: name, reason: "neither file exists")
        }
        let candidates = [credentialsFile?.profile(files.profile), configFile?.profile(files.profile)]
            .compactMap { $0 }
        if candidates.isEmpty {
            throw AWSCredentialsError.notConfigured(provider: name, reason: "no profile \(files.profile)")
        }
        for section in candidates {
            guard let id = section["aws_access_key_id"], !id.isEmpty else { continue }
            guard let secret = section["aws_secret_access_key"], !secret.isEmpty else {
                throw AWSCredentialsError.invalid(
                    provider: name,
                    reason: "profile \(files.profile) has aws_access_key_id but no aws_secret_access_key")
            }
            let token = section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(
                accessKeyId: id, secretAccessKey: secret, sessionToken: token,
                source: "profile \(files.profile)")
        }
        let unsupported = [
            "role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file",
        ]
        if let key = unsupported.first(where: { key in candidates.contains { $0[key] != nil } }) {
            throw AWSCredentialsError.invalid(
                provider: name,
                reason:
                    "profile \(files.profile) uses \(key), which cassnap does not support; give static keys or use instance/container credentials"
            )
        }
        throw AWSCredentialsError.notConfigured(
            provider: name, reason: "profile \(files.profile) has no keys")
    }
}

/// The JSON document both the container endpoint and the instance metadata service return.
struct TemporaryCredentialsDocument: Decodable {
    var Code: String?
    var Message: String?
    var AccessKeyId: String?
    var SecretAccessKey: String?
    var Token: String?
    var Expiration: String?

    func credentials(provider: String) throws -> AWSCredentials {
        if let code = Code, code != "Success" {
            throw AWSCredentialsError.invalid(
                provider: provider, reason: "answered \(code): \(Message ?? "")")
        }
        guard let id = AccessKeyId, let secret = SecretAccessKey, !id.isEmpty, !secret.isEmpty else {
            throw AWSCredentialsError.invalid(
                provider: provider, reason: "answer has no AccessKeyId/SecretAccessKey")
        }
        var expiration: Date? = nil
        if let text = Expiration {
            expiration = parseISO8601(text)
            if expiration == nil {
                throw AWSCredentialsError.invalid(
                    provider: provider, reason: "unreadable Expiration \(text.debugDescription)")
            }
        }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: Token.flatMap { $0.isEmpty ? nil : $0 },
            expiration: expiration, source: provider)
    }

    static func decode(_ body: [UInt8], provider: String) throws -> AWSCredentials {
        let document: TemporaryCredentialsDocument
        do {
            document = try JSONDecoder().decode(TemporaryCredentialsDocument.self, from: Data(body))
        } catch {
            throw AWSCredentialsError.invalid(
                provider: provider, reason: "answer is not a credentials JSON document")
        }
        return try document.credentials(provider: provider)
    }
}

func parseISO8601(_ text: String) -> Date? {
    if let d = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
        return d
    }
    return try? Date(text, strategy: Date.ISO8601FormatStyle())
}

/// Transport settings for metadata endpoints: they answer in milliseconds or not at all, so
/// waiting long only delays the error off EC2/ECS.
package func metadataHTTPConfiguration() -> HTTPClientConfiguration {
    var configuration = HTTPClientConfiguration()
    configuration.connectTimeout = .seconds(1)
    configuration.lowSpeedLimit = 1
    configuration.lowSpeedTime = .seconds(2)
    configuration.maxIdleHandles = 2
    return configuration
}

/// ECS task roles and EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (against
/// 169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the authorization token from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN` or the file named by `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
package struct ContainerCredentialsProvider: AWSCredentialsProvider {
    package let name = "container credentials endpoint"
    private let environment: [String: String]
    /// `host[:port]` for relative URIs; tests point it at a loopback server.
    private let relativeHost: String
    private let http: CurlHTTPClient

    package init(
        environment: [String: String], relativeHost: String = "169.254.170.2",
        http: CurlHTTPClient = CurlHTTPClient(configuration: metadataHTTPConfiguration())
    ) {
        self.environment = environment
        self.relativeHost = relativeHost
        self.http = http
    }

    package func credentials() async throws -> AWSCredentials {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        let url: String
        if let relative = value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            url = "http://\(relativeHost)" + (relative.hasPrefix("/") ? relative : "/" + relative)
        } else if let full = value("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            try Self.checkFullURI(full, provider: name)
            url = full
        } else {
            throw AWSCredentialsError.notConfigured(
                provider: name, reason: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI are not set")
        }
        var headers: [(name: String, value: String)] = []
        if let file = value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw AWSCredentialsError.invalid(provider: name, reason: "cannot read token file \(file)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            headers.append(("Authorization", token))
        } else if let token = value("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            headers.append(("Authorization", token))
        }
        if headers.contains(where: { $0.value.contains("\r") || $0.value.contains("\n") }) {
            throw AWSCredentialsError.invalid(
                provider: name, reason: "authorization token contains a line break")
        }
        let response: HTTPResponse
        do {
            response = try await http.perform(
                HTTPRequest(method: "GET", url: url, headers: headers, sink: .memory(limit: 64 << 10)))
        } catch {
            throw AWSCredentialsError.unavailable(provider: name, reason: "\(error)")
        }
        guard response.status == 200 else {
            let reason = "HTTP \(response.status) from \(HTTPError.redact(url))"
            if response.status >= 500 || response.status == 429 {
                throw AWSCredentialsError.unavailable(provider: name, reason: reason)
            }
            throw AWSCredentialsError.invalid(provider: name, reason: reason)
        }
        return try TemporaryCredentialsDocument.decode(response.body, provider: name)
    }

    /// Plain-HTTP full URIs must stay on the host or the ECS/EKS link-local agents, as in the SDKs.
    static func checkFullURI(_ uri: String, provider: String) throws {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased()
        else {
            throw AWSCredentialsError.invalid(
                provider: provider, reason: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
        }
        if scheme == "https" { return }
        let allowed = [
            "localhost", "127.0.0.1", "::1", "[::1]", "169.254.170.2", "169.254.170.23", "fd00:ec2::23",
            "[fd00:ec2::23]",
        ]
        guard scheme == "http", allowed.contains(host) || host.hasPrefix("127.") else {
            throw AWSCredentialsError.invalid(
                provider: provider,
                reason:
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback/ECS/EKS agent address, not \(host)"
            )
        }
    }
}

/// EC2 instance profile credentials through IMDSv2: a session token from
/// `PUT /latest/api/token`, then the role name and the role's credentials. The endpoint comes
/// from `AWS_EC2_METADATA_SERVICE_ENDPOINT`; `AWS_EC2_METADATA_DISABLED=true` turns it off.
package struct InstanceMetadataCredentialsProvider: AWSCredentialsProvider {
    package let name = "EC2 instance metadata (IMDSv2)"
    package static let defaultEndpoint = "http://169.254.169.254"
    private let endpoint: String
    private let disabled: Bool
    private let http: CurlHTTPClient

    package init(
        environment: [String: String],
        http: CurlHTTPClient = CurlHTTPClient(configuration: metadataHTTPConfiguration())
    ) {
        var endpoint =
            environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Self.defaultEndpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        disabled = environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true"
        self.http = http
    }

    package func credentials() async throws -> AWSCredentials {
        if disabled {
            throw AWSCredentialsError.notConfigured(provider: name, reason: "AWS_EC2_METADATA_DISABLED=true")
        }
        let tokenResponse = try await call(
            "PUT", "/latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")])
        let token = tokenResponse.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, !token.contains("\n"), !token.contains("\r") else {
            throw AWSCredentialsError.invalid(provider: name, reason: "empty or malformed session token")
        }
        let auth = [(name: "X-aws-ec2-metadata-token", value: token)]
        let roles = try await call("GET", "/latest/meta-data/iam/security-credentials/", headers: auth)
        guard
            let role = roles.bodyText.split(whereSeparator: \.isNewline).first.map({
                $0.trimmingCharacters(in: .whitespaces)
            }), !role.isEmpty
        else {
            throw AWSCredentialsError.notConfigured(provider: name, reason: "the instance has no IAM role")
        }
        let document = try await call(
            "GET",
            "/latest/meta-data/iam/security-credentials/" + SigV4Signer.uriEncode(role, keepSlash: false),
            headers: auth)
        return try TemporaryCredentialsDocument.decode(document.body, provider: name)
    }

    private func call(_ method: String, _ path: String, headers: [(name: String, value: String)]) async throws
        -> HTTPResponse
    {
        let response: HTTPResponse
        do {
            response = try await http.perform(
                HTTPRequest(
                    method: method, url: endpoint + path, headers: headers, sink: .memory(limit: 64 << 10)))
        } catch let error as HTTPError {
            // Off EC2 nothing listens at the link-local address: not an error for the chain.
            throw AWSCredentialsError.notConfigured(
                provider: name, reason: "\(endpoint) unreachable: \(error)")
        }
        switch response.status {
        case 200: return response
        case 404 where path.hasSuffix("security-credentials/"):
            throw AWSCredentialsError.notConfigured(provider: name, reason: "the instance has no IAM role")
        case 500..., 429:
            throw AWSCredentialsError.unavailable(
                provider: name, reason: "HTTP \(response.status) for \(path)")
        default:
            throw AWSCredentialsError.invalid(provider: name, reason: "HTTP \(response.status) for \(path)")
        }
    }
}

/// Tries providers in order and sticks with the first that answers, caching temporary
/// credentials until `refreshMargin` before they expire. A provider that is configured but
/// fails stops the chain with its error, so a broken setup is not papered over by another
/// identity.
package final class AWSCredentialsChain: AWSCredentialsProvider {
    package let providers: [any AWSCredentialsProvider]
    package let refreshMargin: TimeInterval
    package var name: String { "credentials chain" }

    private struct State {
        var cached: AWSCredentials?
        var chosen: Int?
    }
    private let state = Mutex(State())
    /// Serializes refreshes so that N parallel requests cause one metadata call.
    private let refreshLock = AsyncLock()

    package init(providers: [any AWSCredentialsProvider], refreshMargin: TimeInterval = 300) {
        self.providers = providers
        self.refreshMargin = refreshMargin
    }

    /// The AWS SDK order: static keys (if given), environment, shared files, container, EC2.
    package static func standard(
        environment: [String: String], staticCredentials: StaticCredentialsProvider? = nil,
        containerHost: String = "169.254.170.2"
    ) -> AWSCredentialsChain {
        var providers: [any AWSCredentialsProvider] = []
        if let staticCredentials { providers.append(staticCredentials) }
        providers.append(EnvironmentCredentialsProvider(environment: environment))
        providers.append(ProfileCredentialsProvider(environment: environment))
        providers.append(ContainerCredentialsProvider(environment: environment, relativeHost: containerHost))
        providers.append(InstanceMetadataCredentialsProvider(environment: environment))
        return AWSCredentialsChain(providers: providers)
    }

    package func credentials() async throws -> AWSCredentials {
        if let fresh = freshCached() { return fresh }
        return try await refreshLock.withLock {
            if let fresh = freshCached() { return fresh }
            let start = state.withLock { $0.chosen }
            var tried: [String] = []
            let order =
                start.map { first in [first] + providers.indices.filter { $0 != first } }
                ?? Array(providers.indices)
            for index in order {
                do {
                    let credentials = try await providers[index].credentials()
                    state.withLock {
                        $0.cached = credentials
                        $0.chosen = index
                    }
                    return credentials
                } catch let error as AWSCredentialsError {
                    if case .notConfigured = error {
                        tried.append(error.description)
                        continue
                    }
                    // Keep serving the old credentials while they still work if a refresh fails.
                    if let old = state.withLock({ $0.cached }), !old.expires(within: 0) { return old }
                    throw error
                }
            }
            throw AWSCredentialsError.noCredentials(tried: tried)
        }
    }

    private func freshCached() -> AWSCredentials? {
        state.withLock { state in
            guard let cached = state.cached, !cached.expires(within: refreshMargin) else { return nil }
            return cached
        }
    }
}

/// A minimal async mutex: one holder at a time, waiters resumed in order.
package actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package init() {}

    package func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if locked {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            locked = true
        }
        defer {
            if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
