import CassnapCrypto
import Foundation
import Testing

@testable import CassnapS3

/// One case of AWS's SigV4 test suite, read from `Fixtures/aws-sig-v4-test-suite`.
struct SigV4Vector: CustomStringConvertible, Sendable {
    var name: String
    var method: String
    var path: String
    var query: [(name: String, value: String)]
    var headers: [(name: String, value: String)]
    var body: String
    var canonicalRequest: String?
    var stringToSign: String?
    var authorization: String
    var normalizesPath: Bool

    var description: String { name }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/aws-sig-v4-test-suite")

    static func all() -> [SigV4Vector] {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        var vectors: [SigV4Vector] = []
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".req") else { continue }
            let base = directory.appendingPathComponent(String(relative.dropLast(4))).path
            vectors.append(load(base: base, normalizes: relative.hasPrefix("normalize-path/")))
        }
        return vectors.sorted { $0.name < $1.name }
    }

    static func load(base: String, normalizes: Bool) -> SigV4Vector {
        func read(_ ext: String) -> String? {
            FileManager.default.contents(atPath: base + "." + ext).map { String(decoding: $0, as: UTF8.self) }
        }
        let request = read("req")!
        let (head, body) =
            request.range(of: "\n\n").map {
                (String(request[..<$0.lowerBound]), String(request[$0.upperBound...]))
            }
            ?? (request, "")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        // "GET /example space/ HTTP/1.1": the URI may contain spaces.
        let method = String(requestLine.prefix { $0 != " " })
        let uri = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        let (path, rawQuery) =
            uri.firstIndex(of: "?").map { (String(uri[..<$0]), String(uri[uri.index(after: $0)...])) } ?? (
                uri, ""
            )
        let query: [(name: String, value: String)] = rawQuery.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        let headers: [(name: String, value: String)] = lines.map { line in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), String(line[line.index(after: colon)...]))
        }
        return SigV4Vector(
            name: (base as NSString).lastPathComponent, method: method, path: path, query: query,
            headers: headers, body: body,
            canonicalRequest: read("creq"), stringToSign: read("sts"), authorization: read("authz")!,
            normalizesPath: normalizes)
    }
}

@Suite struct SigV4SignerTests {
    static let credentials = AWSCredentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    @Test func fixturesArePresent() {
        #expect(SigV4Vector.all().count >= 8)
    }

    @Test(arguments: SigV4Vector.all())
    func awsTestSuite(_ vector: SigV4Vector) {
        var credentials = Self.credentials
        var headers = vector.headers
        // The session token comes from the credentials, as in real use.
        if let token = headers.first(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            credentials.sessionToken = token.value
            headers.removeAll { $0.name.lowercased() == "x-amz-security-token" }
        }
        let signer = SigV4Signer(region: "us-east-1", service: "service")
        #expect(signer.normalizesPath && !signer.sendsContentSHA256)
        let signed = signer.sign(
            SigV4Signer.Request(
                method: vector.method, path: vector.path, query: vector.query, headers: headers,
                payloadHash: Digest.sha256(Array(vector.body.utf8)).hexString),
            credentials: credentials, date: Self.date)
        if let creq = vector.canonicalRequest { #expect(signed.canonicalRequest == creq) }
        if let sts = vector.stringToSign { #expect(signed.stringToSign == sts) }
        #expect(signed.authorization == vector.authorization)
        #expect(signed.headers.contains { $0.name == "Authorization" && $0.value == vector.authorization })
        #expect(signed.headers.contains { $0.name == "X-Amz-Date" && $0.value == "20150830T123600Z" })
    }

    /// The derived-key example from AWS's "Examples of how to derive a signing key".
    @Test func signingKeyDerivation() {
        let key = SigV4Signer.signingKey(
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", day: "20150830", region: "us-east-1",
            service: "iam")
        #expect(key.hexString == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    /// The GET-object example from the S3 API reference (signed `x-amz-content-sha256`, `Range`).
    @Test func s3GetObjectExample() {
        let signer = SigV4Signer(region: "us-east-1", service: "s3")
        let signed = signer.sign(
            SigV4Signer.Request(
                method: "GET", path: "/test.txt",
                headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")]),
            credentials: AWSCredentials(
                accessKeyId: "AKIAIOSFODNN7EXAMPLE",
                secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            date: Date(timeIntervalSince1970: 1_369_353_600))  // 2013-05-24T00:00:00Z
        #expect(
            signed.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test func s3KeepsPathsAsTheyAreAndEncodesOnce() {
        let signer = SigV4Signer(region: "eu-west-1")
        #expect(!signer.normalizesPath && signer.sendsContentSHA256)
        let signed = signer.sign(
            SigV4Signer.Request(
                method: "PUT", path: "/bucket/ks/t-1//a b+c%/ሴ.db",
                query: [("uploadId", "x/y+z="), ("partNumber", "2")], headers: [("Host", "h")],
                payloadHash: SigV4Signer.unsignedPayload),
            credentials: Self.credentials, date: Self.date)
        #expect(signed.encodedPath == "/bucket/ks/t-1//a%20b%2Bc%25/%E1%88%B4.db")
        #expect(signed.encodedQuery == "partNumber=2&uploadId=x%2Fy%2Bz%3D")
        #expect(
            signed.headers.contains { $0.name == "X-Amz-Content-SHA256" && $0.value == "UNSIGNED-PAYLOAD" })
        #expect(signed.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
    }

    @Test func sessionTokenIsSignedAndSent() {
        var credentials = Self.credentials
        credentials.sessionToken = "token/with+chars"
        let signed = SigV4Signer(region: "us-east-1").sign(
            SigV4Signer.Request(method: "GET", path: "/", headers: [("Host", "h")]), credentials: credentials,
            date: Self.date)
        #expect(
            signed.headers.contains { $0.name == "X-Amz-Security-Token" && $0.value == "token/with+chars" })
        #expect(
            signed.authorization.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
    }

    @Test func credentialsNeverPrintTheirSecrets() {
        let credentials = AWSCredentials(
            accessKeyId: "AKIDEXAMPLE", secretAccessKey: "SECRETSECRET", sessionToken: "TOKENTOKEN",
            source: "test")
        for text in [credentials.description, String(reflecting: credentials), "\(credentials)"] {
            #expect(!text.contains("SECRETSECRET") && !text.contains("TOKENTOKEN"))
            #expect(text.contains("AKIDEXAMPLE"))
        }
    }
}
