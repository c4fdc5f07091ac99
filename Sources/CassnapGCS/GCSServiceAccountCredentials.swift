import CassnapCrypto
import CassnapHTTP
import Foundation

/// The fields of a service-account JSON key that cassnap needs.
package struct GCSServiceAccountKey: Sendable, Decodable {
    package var clientEmail: String
    package var privateKey: String
    package var privateKeyID: String?
    package var tokenURI: String
    package var projectID: String?

    enum CodingKeys: String, CodingKey {
        case clientEmail = "client_email"
        case privateKey = "private_key"
        case privateKeyID = "private_key_id"
        case tokenURI = "token_uri"
        case projectID = "project_id"
    }

    package init(
        clientEmail: String, privateKey: String, privateKeyID: String? = nil,
        tokenURI: String = "https://oauth2.googleapis.com/token", projectID: String? = nil
    ) {
        self.clientEmail = clientEmail
        self.privateKey = privateKey
        self.privateKeyID = privateKeyID
        self.tokenURI = tokenURI
        self.projectID = projectID
    }
}

/// A service account's JSON key: a self-signed RS256 JWT is exchanged at the key's `token_uri`
/// for an access token (OAuth2 JWT bearer grant), cached until shortly before it expires.
package final class GCSServiceAccountCredentials: GCSCredentialsProvider {
    package static let readWriteScope = "https://www.googleapis.com/auth/devstorage.read_write"

    package let key: GCSServiceAccountKey
    package let scope: String
    private let signer: RSASigner
    private let cache: GCSTokenCache

    package init(
        key: GCSServiceAccountKey, scope: String = GCSServiceAccountCredentials.readWriteScope,
        http: HTTPClientConfiguration = .init(), clock: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.key = key
        self.scope = scope
        let signer = try RSASigner(pemPrivateKey: key.privateKey)
        self.signer = signer
        let client = CurlHTTPClient(configuration: http)
        cache = GCSTokenCache(clock: clock) {
            let now = clock()
            let assertion = try GCSServiceAccountCredentials.jwt(
                key: key, scope: scope, signer: signer, now: now)
            let body = PercentEncoding.query([
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
            ])
            let request = HTTPRequest(
                method: "POST", url: key.tokenURI,
                headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: .bytes(Array(body.utf8)),
                sink: .memory(limit: 1 << 20))
            return try await requestToken(client, request, source: HTTPError.redact(key.tokenURI), now: now)
        }
    }

    /// Reads a key file (`GOOGLE_APPLICATION_CREDENTIALS`).
    package convenience init(
        keyFile path: String, scope: String = GCSServiceAccountCredentials.readWriteScope,
        http: HTTPClientConfiguration = .init(), clock: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        let key = try GCSServiceAccountCredentials.loadKey(path: path)
        do {
            try self.init(key: key, scope: scope, http: http, clock: clock)
        } catch let error as RSASignerError {
            throw GCSCredentialsError.invalidKeyFile(path: path, reason: error.description)
        }
    }

    package static func loadKey(path: String) throws -> GCSServiceAccountKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GCSCredentialsError.invalidKeyFile(path: path, reason: "cannot be read")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GCSCredentialsError.invalidKeyFile(path: path, reason: "not a JSON object")
        }
        if let type = json["type"] as? String, type != "service_account" {
            throw GCSCredentialsError.invalidKeyFile(
                path: path, reason: "type is \(type.debugDescription), not \"service_account\"")
        }
        do {
            return try JSONDecoder().decode(GCSServiceAccountKey.self, from: data)
        } catch {
            throw GCSCredentialsError.invalidKeyFile(
                path: path, reason: "missing client_email, private_key or token_uri")
        }
    }

    /// The signed assertion: `header.claims.signature`, each base64url without padding.
    package static func jwt(key: GCSServiceAccountKey, scope: String, signer: RSASigner, now: Date) throws
        -> String
    {
        var header: [String: Any] = ["alg": "RS256", "typ": "JWT"]
        if let kid = key.privateKeyID { header["kid"] = kid }
        let issuedAt = Int(now.timeIntervalSince1970)
        let claims: [String: Any] = [
            "iss": key.clientEmail, "scope": scope, "aud": key.tokenURI, "iat": issuedAt,
            "exp": issuedAt + 3600,
        ]
        func segment(_ object: [String: Any]) throws -> String {
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return Base64.urlEncode(Array(data))
        }
        let signingInput = try segment(header) + "." + segment(claims)
        return signingInput + "." + Base64.urlEncode(try signer.sign(Array(signingInput.utf8)))
    }

    package func authorization() async throws -> String? {
        "Bearer " + (try await cache.token().token)
    }

    package func invalidate() async { await cache.invalidate() }
}

/// The `authorized_user` file `gcloud auth application-default login` writes: a refresh token
/// exchanged for access tokens.
package final class GCSAuthorizedUserCredentials: GCSCredentialsProvider {
    private let cache: GCSTokenCache

    package init(
        clientID: String, clientSecret: String, refreshToken: String,
        tokenURI: String = "https://oauth2.googleapis.com/token", http: HTTPClientConfiguration = .init(),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        let client = CurlHTTPClient(configuration: http)
        cache = GCSTokenCache(clock: clock) {
            let body = PercentEncoding.query([
                ("grant_type", "refresh_token"), ("client_id", clientID), ("client_secret", clientSecret),
                ("refresh_token", refreshToken),
            ])
            let request = HTTPRequest(
                method: "POST", url: tokenURI,
                headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: .bytes(Array(body.utf8)), sink: .memory(limit: 1 << 20))
            return try await requestToken(client, request, source: HTTPError.redact(tokenURI), now: clock())
        }
    }

    package func authorization() async throws -> String? {
        "Bearer " + (try await cache.token().token)
    }

    package func invalidate() async { await cache.invalidate() }
}

/// The token of the VM's default service account from the GCE metadata server. The host comes
/// from `GCE_METADATA_HOST` when set (tests point it at a local fake); timeouts are short so a
/// machine outside GCE fails fast with a clear error.
package final class GCSMetadataServerCredentials: GCSCredentialsProvider {
    package static let defaultHost = "metadata.google.internal"
    package let host: String
    private let cache: GCSTokenCache

    package init(host: String? = nil, clock: @escaping @Sendable () -> Date = { Date() }) {
        let host = host ?? GCSMetadataServerCredentials.defaultHost
        self.host = host
        var http = HTTPClientConfiguration()
        http.connectTimeout = .seconds(2)
        http.lowSpeedTime = .seconds(5)
        http.lowSpeedLimit = 1
        let client = CurlHTTPClient(configuration: http)
        let base = host.contains("://") ? host : "http://" + host
        let url = base + "/computeMetadata/v1/instance/service-accounts/default/token"
        cache = GCSTokenCache(clock: clock) {
            let request = HTTPRequest(
                method: "GET", url: url, headers: [("Metadata-Flavor", "Google")],
                sink: .memory(limit: 1 << 20))
            let source = "the GCE metadata server at \(host)"
            let response: HTTPResponse
            do {
                response = try await client.perform(request)
            } catch let error as HTTPError {
                throw GCSCredentialsError.unreachable(
                    source: source,
                    detail:
                        "\(error.description); outside GCE set GOOGLE_APPLICATION_CREDENTIALS to a key file",
                    retryable: error.isRetryable)
            }
            guard response.status == 200 else {
                throw GCSCredentialsError.tokenRequestFailed(
                    source: source, status: response.status,
                    detail: "no token for the default service account")
            }
            // Anything else on that name (a captive portal, a proxy) is not the metadata server.
            guard response.header("Metadata-Flavor") == "Google" else {
                throw GCSCredentialsError.tokenRequestFailed(
                    source: source, status: response.status, detail: "answer lacks Metadata-Flavor: Google")
            }
            return try GCSAccessToken.parse(response.body, now: clock(), source: source)
        }
    }

    package func authorization() async throws -> String? {
        "Bearer " + (try await cache.token().token)
    }

    package func invalidate() async { await cache.invalidate() }
}

/// Application Default Credentials in Google's order: `STORAGE_EMULATOR_HOST` (no auth, as
/// Google's client libraries do), the key file `keyFile` or `GOOGLE_APPLICATION_CREDENTIALS`,
/// gcloud's application-default file, then the GCE metadata server.
package enum GCSCredentials {
    package static func applicationDefault(
        environment: [String: String], keyFile: String? = nil, http: HTTPClientConfiguration = .init()
    ) throws -> any GCSCredentialsProvider {
        if nonEmpty(environment["STORAGE_EMULATOR_HOST"]) != nil { return GCSAnonymousCredentials() }
        if let path = keyFile ?? nonEmpty(environment["GOOGLE_APPLICATION_CREDENTIALS"]) {
            return try fromFile(path, http: http)
        }
        let gcloudDirectory =
            nonEmpty(environment["CLOUDSDK_CONFIG"])
            ?? nonEmpty(environment["HOME"]).map { $0 + "/.config/gcloud" }
        if let directory = gcloudDirectory {
            let path = directory + "/application_default_credentials.json"
            if FileManager.default.fileExists(atPath: path) { return try fromFile(path, http: http) }
        }
        return GCSMetadataServerCredentials(host: nonEmpty(environment["GCE_METADATA_HOST"]))
    }

    /// A service-account key or an `authorized_user` file, told apart by its `type`.
    package static func fromFile(_ path: String, http: HTTPClientConfiguration = .init()) throws
        -> any GCSCredentialsProvider
    {
        guard let data = FileManager.default.contents(atPath: path),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw GCSCredentialsError.invalidKeyFile(path: path, reason: "cannot be read as JSON") }
        switch json["type"] as? String {
        case "authorized_user":
            guard let id = json["client_id"] as? String, let secret = json["client_secret"] as? String,
                let refresh = json["refresh_token"] as? String
            else {
                throw GCSCredentialsError.invalidKeyFile(
                    path: path, reason: "authorized_user file lacks client_id, client_secret or refresh_token"
                )
            }
            return GCSAuthorizedUserCredentials(
                clientID: id, clientSecret: secret, refreshToken: refresh,
                tokenURI: json["token_uri"] as? String ?? "https://oauth2.googleapis.com/token", http: http)
        default:
            return try GCSServiceAccountCredentials(keyFile: path, http: http)
        }
    }

    static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// Resolves Application Default Credentials on first use, so a configuration can be built
/// without touching the disk or network.
package actor GCSLazyCredentials: GCSCredentialsProvider {
    private let environment: [String: String]
    private var resolved: (any GCSCredentialsProvider)?

    package init(environment: [String: String]) { self.environment = environment }

    private func provider() throws -> any GCSCredentialsProvider {
        if let resolved { return resolved }
        let provider = try GCSCredentials.applicationDefault(environment: environment)
        resolved = provider
        return provider
    }

    package func authorization() async throws -> String? { try await provider().authorization() }
    package func invalidate() async { await resolved?.invalidate() }
}
