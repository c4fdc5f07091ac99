import CassnapCrypto
import CassnapTestSupport
import Foundation
import Synchronization
import Testing

@testable import CassnapGCS

/// A throwaway RSA key made with the system `openssl` for each test run.
struct TestKey {
    let directory: String
    let privateKeyPath: String
    let publicKeyPath: String
    var privateKeyPEM: String { (try? String(contentsOfFile: privateKeyPath, encoding: .utf8)) ?? "" }

    init() throws {
        directory = NSTemporaryDirectory() + "cassnap-gcs-key-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        privateKeyPath = directory + "/key.pem"
        publicKeyPath = directory + "/pub.pem"
        try openssl([
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privateKeyPath,
        ])
        try openssl(["pkey", "-in", privateKeyPath, "-pubout", "-out", publicKeyPath])
    }

    /// Verifies an RS256 signature with `openssl dgst`, independently of our code.
    func verify(message: [UInt8], signature: [UInt8]) throws -> Bool {
        let messagePath = directory + "/message-" + UUID().uuidString
        let signaturePath = directory + "/signature-" + UUID().uuidString
        try Data(message).write(to: URL(fileURLWithPath: messagePath))
        try Data(signature).write(to: URL(fileURLWithPath: signaturePath))
        return
            (try? openssl([
                "dgst", "-sha256", "-verify", publicKeyPath, "-signature", signaturePath, messagePath,
            ])) != nil
    }

    func serviceAccountFile(tokenURI: String) throws -> String {
        let json: [String: Any] = [
            "type": "service_account", "project_id": "cassnap-test", "private_key_id": "kid-1",
            "private_key": privateKeyPEM, "client_email": "backup@cassnap-test.iam.gserviceaccount.com",
            "token_uri": tokenURI,
        ]
        let path = directory + "/sa-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    @discardableResult
    private func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw OpenSSLFailed(output: text) }
        return text
    }

    struct OpenSSLFailed: Error { var output: String }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    func read() -> Date { now.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

private func decodeSegment(_ segment: Substring) throws -> [String: Any] {
    let bytes = try #require(Base64.urlDecode(String(segment)))
    return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}

private func formFields(_ body: String) -> [String: String] {
    var fields: [String: String] = [:]
    for pair in body.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1).map {
            String($0).removingPercentEncoding ?? String($0)
        }
        if parts.count == 2 { fields[parts[0]] = parts[1] }
    }
    return fields
}

@Suite("GCS credentials")
struct CredentialsTests {
    @Test("RS256 signatures verify with the public key (openssl dgst)")
    func rs256() throws {
        let key = try TestKey()
        defer { key.remove() }
        let signer = try RSASigner(pemPrivateKey: key.privateKeyPEM)
        let message = Array("header.claims".utf8)
        let signature = try signer.sign(message)
        #expect(signature.count == 256)
        #expect(try key.verify(message: message, signature: signature))
        #expect(try !key.verify(message: Array("header.claimz".utf8), signature: signature))
    }

    @Test("a PEM that is not a private key is refused without quoting it")
    func badKey() {
        let secretish = "-----BEGIN PRIVATE KEY-----\nTk9UQUtFWQ==\n-----END PRIVATE KEY-----\n"
        #expect {
            try RSASigner(pemPrivateKey: secretish)
        } throws: { error in
            "\(error)".contains("cannot load the RSA private key") && !"\(error)".contains("Tk9UQUtFWQ")
        }
    }

    @Test("the JWT carries iss, scope, aud, iat, exp and a valid RS256 signature")
    func jwt() throws {
        let key = try TestKey()
        defer { key.remove() }
        let account = GCSServiceAccountKey(
            clientEmail: "backup@p.iam.gserviceaccount.com", privateKey: key.privateKeyPEM,
            privateKeyID: "kid-7",
            tokenURI: "https://oauth2.googleapis.com/token")
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let jwt = try GCSServiceAccountCredentials.jwt(
            key: account, scope: GCSServiceAccountCredentials.readWriteScope,
            signer: try RSASigner(pemPrivateKey: key.privateKeyPEM), now: now)
        let segments = jwt.split(separator: ".")
        #expect(segments.count == 3)
        let header = try decodeSegment(segments[0])
        #expect(header["alg"] as? String == "RS256")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] as? String == "kid-7")
        let claims = try decodeSegment(segments[1])
        #expect(claims["iss"] as? String == "backup@p.iam.gserviceaccount.com")
        #expect(claims["scope"] as? String == "https://www.googleapis.com/auth/devstorage.read_write")
        #expect(claims["aud"] as? String == "https://oauth2.googleapis.com/token")
        #expect((claims["iat"] as? NSNumber)?.intValue == 1_700_000_000)
        #expect((claims["exp"] as? NSNumber)?.intValue == 1_700_003_600)
        let signature = try #require(Base64.urlDecode(String(segments[2])))
        #expect(try key.verify(message: Array("\(segments[0]).\(segments[1])".utf8), signature: signature))
        #expect(!jwt.contains("=") && !jwt.contains("+") && !jwt.contains("/"))
    }

    @Test("a service-account key is exchanged at token_uri, cached, and refreshed before expiry")
    func serviceAccountExchange() async throws {
        let key = try TestKey()
        defer { key.remove() }
        let counter = Mutex(0)
        let server = try StubHTTPServer { request in
            guard request.method == "POST", request.path == "/token",
                request.headers["content-type"] == "application/x-www-form-urlencoded"
            else { return .init(status: 400, body: #"{"error":"invalid_request"}"#) }
            let n = counter.withLock {
                $0 += 1; return $0
            }
            return .init(
                status: 200, headers: [("Content-Type", "application/json")],
                body: #"{"access_token":"tok-\#(n)","expires_in":3600,"token_type":"Bearer"}"#)
        }
        defer { server.stop() }
        let clock = TestClock()
        let path = try key.serviceAccountFile(tokenURI: server.url + "/token")
        let credentials = try GCSServiceAccountCredentials(keyFile: path, clock: { clock.read() })

        #expect(try await credentials.authorization() == "Bearer tok-1")
        #expect(try await credentials.authorization() == "Bearer tok-1")
        #expect(server.requests.count == 1)

        let firstRequest = try #require(server.requests.first)
        let form = formFields(firstRequest.bodyText)
        #expect(form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
        let assertion = try #require(form["assertion"])
        let segments = assertion.split(separator: ".")
        let claims = try decodeSegment(segments[1])
        #expect(claims["aud"] as? String == server.url + "/token")
        #expect(claims["iss"] as? String == "backup@cassnap-test.iam.gserviceaccount.com")
        let signature = try #require(Base64.urlDecode(String(segments[2])))
        #expect(try key.verify(message: Array("\(segments[0]).\(segments[1])".utf8), signature: signature))

        clock.advance(3600 - 600)  // ten minutes left: still good
        #expect(try await credentials.authorization() == "Bearer tok-1")
        clock.advance(400)  // under five minutes left: refresh ahead of expiry
        #expect(try await credentials.authorization() == "Bearer tok-2")
        #expect(server.requests.count == 2)

        await credentials.invalidate()  // what a 401 does
        #expect(try await credentials.authorization() == "Bearer tok-3")
    }

    @Test("a refused exchange names the OAuth error, never the assertion or key")
    func serviceAccountRefused() async throws {
        let key = try TestKey()
        defer { key.remove() }
        let server = try StubHTTPServer { _ in
            .init(
                status: 400, body: #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#)
        }
        defer { server.stop() }
        let credentials = try GCSServiceAccountCredentials(
            keyFile: try key.serviceAccountFile(tokenURI: server.url + "/token"))
        do {
            _ = try await credentials.authorization()
            Issue.record("expected an error")
        } catch let error as GCSCredentialsError {
            let text = error.description
            #expect(text.contains("invalid_grant: Invalid JWT Signature."))
            #expect(text.contains("HTTP 400"))
            #expect(!error.isRetryable)
            let first = try #require(server.requests.first)
            let assertion = try #require(formFields(first.bodyText)["assertion"])
            #expect(!text.contains(assertion.prefix(20)))
            #expect(!text.contains("PRIVATE KEY"))
        }
    }

    @Test("key files that are missing or malformed give a clear error")
    func badKeyFiles() throws {
        let directory = NSTemporaryDirectory() + "cassnap-gcs-bad-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: GCSCredentialsError.self) {
            try GCSServiceAccountCredentials(keyFile: directory + "/missing.json")
        }
        let path = directory + "/bad.json"
        try Data(
            #"{"type":"service_account","client_email":"a@b","private_key":"SECRETSTUFF","token_uri":"https://x"}"#
                .utf8
        )
        .write(to: URL(fileURLWithPath: path))
        do {
            _ = try GCSServiceAccountCredentials(keyFile: path)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains(path))
            #expect(!"\(error)".contains("SECRETSTUFF"))
        }
    }

    @Test("the metadata server token needs Metadata-Flavor both ways and is cached")
    func metadataServer() async throws {
        let server = try StubHTTPServer { request in
            guard request.headers["metadata-flavor"] == "Google",
                request.path == "/computeMetadata/v1/instance/service-accounts/default/token"
            else { return .init(status: 403) }
            return .init(
                status: 200, headers: [("Metadata-Flavor", "Google"), ("Content-Type", "application/json")],
                body: #"{"access_token":"meta-token","expires_in":3599,"token_type":"Bearer"}"#)
        }
        defer { server.stop() }
        let credentials = try GCSCredentials.applicationDefault(environment: [
            "GCE_METADATA_HOST": "127.0.0.1:\(server.port)", "HOME": "/nonexistent",
        ])
        #expect(credentials is GCSMetadataServerCredentials)
        #expect(try await credentials.authorization() == "Bearer meta-token")
        #expect(try await credentials.authorization() == "Bearer meta-token")
        #expect(server.requests.count == 1)
    }

    @Test("an impostor without Metadata-Flavor: Google is not trusted")
    func metadataImpostor() async throws {
        let server = try StubHTTPServer { _ in
            .init(status: 200, body: #"{"access_token":"evil","expires_in":3600}"#)
        }
        defer { server.stop() }
        let credentials = GCSMetadataServerCredentials(host: "127.0.0.1:\(server.port)")
        await #expect(throws: GCSCredentialsError.self) { _ = try await credentials.authorization() }
    }

    @Test("an unreachable metadata server fails fast with advice")
    func metadataUnreachable() async throws {
        // A port that was just free: nothing listens there.
        let server = try StubHTTPServer { _ in .init(status: 500) }
        let port = server.port
        server.stop()
        let credentials = GCSMetadataServerCredentials(host: "127.0.0.1:\(port)")
        do {
            _ = try await credentials.authorization()
            Issue.record("expected an error")
        } catch let error as GCSCredentialsError {
            #expect(error.description.contains("GOOGLE_APPLICATION_CREDENTIALS"))
        }
    }

    @Test("Application Default Credentials pick the emulator, a key file, or the metadata server")
    func applicationDefault() throws {
        let key = try TestKey()
        defer { key.remove() }
        let path = try key.serviceAccountFile(tokenURI: "https://oauth2.googleapis.com/token")
        #expect(
            try GCSCredentials.applicationDefault(environment: ["STORAGE_EMULATOR_HOST": "localhost:4443"])
                is GCSAnonymousCredentials)
        #expect(
            try GCSCredentials.applicationDefault(environment: ["GOOGLE_APPLICATION_CREDENTIALS": path])
                is GCSServiceAccountCredentials)
        #expect(
            try GCSCredentials.applicationDefault(environment: [:], keyFile: path)
                is GCSServiceAccountCredentials)
        #expect(
            try GCSCredentials.applicationDefault(environment: ["HOME": "/nonexistent"])
                is GCSMetadataServerCredentials)
    }
}
