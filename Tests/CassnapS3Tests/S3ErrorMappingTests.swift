import CassnapCrypto
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapS3

@Suite struct S3ErrorMappingTests {
    let store = try! S3ObjectStore(
        configuration: .init(
            bucket: "vault", endpoint: "http://127.0.0.1:9",
            credentials: StaticCredentialsProvider(accessKeyId: "a", secretAccessKey: "s")))

    func map(_ status: Int, _ code: String, key: String? = "k") -> ObjectStoreError {
        store.error(
            status: status, document: S3ErrorDocument(code: code, message: "msg for \(code)"), key: key,
            operation: "put")
    }

    @Test func classification() {
        for code in ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken"] {
            guard case .accessDenied(_, let bucket, let detail) = map(403, code) else {
                Issue.record("\(code) is not accessDenied")
                continue
            }
            #expect(bucket == "vault")
            #expect(detail.contains(code) && detail.contains("msg for \(code)"))
        }
        guard case .noSuchBucket(_, "vault") = map(404, "NoSuchBucket") else {
            Issue.record("NoSuchBucket"); return
        }
        #expect(map(404, "NoSuchKey").isNotFound)
        for code in ["BadDigest", "InvalidDigest"] {
            guard case .checksumMismatch = map(400, code) else { Issue.record("\(code)"); continue }
        }
        for (status, code) in [
            (500, "InternalError"), (503, "SlowDown"), (400, "RequestTimeout"), (429, ""), (502, ""),
        ] {
            guard case .transient = map(status, code) else { Issue.record("\(status) \(code)"); continue }
        }
        for (status, code) in [
            (400, "InvalidArgument"), (409, "BucketAlreadyExists"), (400, "EntityTooSmall"),
        ] {
            let error = map(status, code)
            guard case .permanent = error else { Issue.record("\(status) \(code)"); continue }
            #expect(error.isPermanent)
        }
        #expect(map(400, "AuthorizationHeaderMalformed").description.contains("region"))
    }
}

/// Multipart failure handling against a scripted fake S3 (no moto needed).
@Suite struct S3MultipartFailureTests {
    static func bigFile() throws -> (Scratch, String) {
        let scratch = try Scratch()
        return (scratch, try scratch.largeFile("f.db", size: (5 << 20) + 10, seed: 5))
    }

    static func store(_ server: StubHTTPServer) throws -> S3ObjectStore {
        var configuration = S3ObjectStore.Configuration(
            bucket: "b", endpoint: server.url,
            credentials: StaticCredentialsProvider(accessKeyId: "a", secretAccessKey: "s"))
        configuration.multipartThreshold = 5 << 20
        configuration.partSize = 5 << 20
        configuration.partConcurrency = 1
        configuration.partAttempts = 2
        return try S3ObjectStore(configuration: configuration)
    }

    static func fakeS3(partStatus: Int, partCode: String) throws -> StubHTTPServer {
        try StubHTTPServer { request in
            if request.method == "POST" && request.path.hasSuffix("?uploads=") {
                return .init(
                    status: 200,
                    body:
                        "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>"
                )
            }
            if request.method == "PUT" && request.path.contains("partNumber=") {
                return .init(
                    status: partStatus,
                    body: "<Error><Code>\(partCode)</Code><Message>scripted</Message></Error>")
            }
            if request.method == "DELETE" && request.path.contains("uploadId=U1") {
                return .init(status: 204, body: "")
            }
            return .init(status: 400, body: "<Error><Code>Unexpected</Code></Error>")
        }
    }

    @Test func permanentPartFailureAbortsTheUpload() async throws {
        let (scratch, path) = try Self.bigFile()
        defer { scratch.remove() }
        let server = try Self.fakeS3(partStatus: 400, partCode: "InvalidArgument")
        defer { server.stop() }
        do {
            _ = try await Self.store(server).put(key: "k", source: .file(path))
            Issue.record("put succeeded")
        } catch let error as ObjectStoreError {
            #expect(error.isPermanent, "\(error)")
        }
        let calls = server.requests.map { "\($0.method) \($0.path)" }
        #expect(calls.filter { $0.hasPrefix("PUT") }.count == 1, "permanent errors are not retried: \(calls)")
        #expect(calls.last == "DELETE /b/k?uploadId=U1", "\(calls)")
    }

    @Test func transientPartFailureIsRetriedThenKept() async throws {
        let (scratch, path) = try Self.bigFile()
        defer { scratch.remove() }
        let server = try Self.fakeS3(partStatus: 503, partCode: "SlowDown")
        defer { server.stop() }
        do {
            _ = try await Self.store(server).put(key: "k", source: .file(path))
            Issue.record("put succeeded")
        } catch let error as ObjectStoreError {
            #expect(error.isRetryable, "\(error)")
        }
        let calls = server.requests.map { "\($0.method) \($0.path)" }
        #expect(calls.filter { $0.hasPrefix("PUT") }.count == 2, "partAttempts = 2: \(calls)")
        #expect(
            !calls.contains { $0.hasPrefix("DELETE") },
            "a transient failure keeps the upload for resuming: \(calls)")
        // Every part carried Content-MD5 and an unsigned payload.
        for request in server.requests where request.method == "PUT" {
            #expect(request.headers["content-md5"]?.count == 24)
            #expect(request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD")
        }
    }

    @Test func completeAnsweringTwoHundredWithAnErrorFails() async throws {
        let (scratch, path) = try Self.bigFile()
        defer { scratch.remove() }
        let server = try StubHTTPServer { request in
            if request.method == "POST" && request.path.hasSuffix("?uploads=") {
                return .init(
                    status: 200,
                    body:
                        "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>"
                )
            }
            if request.method == "PUT" {
                return .init(
                    status: 200, headers: [("ETag", "\"\(Digest.md5(request.body).hexString)\"")]
                )
            }
            if request.method == "POST" && request.path.contains("uploadId=U1") {
                return .init(
                    status: 200, body: "<Error><Code>InternalError</Code><Message>try again</Message></Error>"
                )
            }
            return .init(status: 204, body: "")
        }
        defer { server.stop() }
        var configuration = try Self.store(server).configuration
        configuration.partAttempts = 1
        do {
            _ = try await S3ObjectStore(configuration: configuration).put(key: "k", source: .file(path))
            Issue.record("put succeeded")
        } catch let error as ObjectStoreError {
            #expect(error.isRetryable, "\(error)")
            #expect(error.description.contains("InternalError"), "\(error)")
        }
        #expect(server.requests.filter { $0.method == "PUT" }.count == 2)
    }
}
