import CassnapCrypto
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Synchronization
import Testing

@testable import CassnapGCS

/// Just enough of the real GCS resumable protocol to test what fake-gcs-server cannot: the
/// server keeps fewer bytes than sent, fails a chunk with 503, and answers status queries
/// (`Content-Range: bytes */total`) with 308 + `Range`. Also checks the bearer token.
final class FakeGCSAPI: Sendable {
    struct State {
        var stored: [UInt8] = []
        var total = 0
        var metadataJSON: [UInt8] = Array("{}".utf8)
        var metadata: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(metadataJSON)) as? [String: Any]) ?? [:]
        }
        var chunkPuts = 0
        var statusQueries = 0
        var failChunk: Int?
        var finished = false
        var deleted: [String] = []
    }

    final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    let server: StubHTTPServer
    var snapshot: State { shared.state.withLock { $0 } }

    init(failChunk: Int? = nil) throws {
        let shared = self.shared
        shared.state.withLock { $0.failChunk = failChunk }
        server = try StubHTTPServer { request in FakeGCSAPI.handle(request, shared) }
    }

    func stop() { server.stop() }

    private static func handle(_ request: StubHTTPServer.Request, _ shared: Shared) -> StubHTTPServer.Response
    {
        guard request.headers["authorization"] == "Bearer good-token" else {
            return .init(status: 401, body: #"{"error":{"code":401,"message":"Invalid Credentials"}}"#)
        }
        if request.path.hasPrefix("/storage/v1/b/locked/") {
            return .init(
                status: 403,
                body:
                    #"{"error":{"code":403,"message":"sa@p.iam does not have storage.objects.get access to the Google Cloud Storage object."}}"#
            )
        }
        if request.path.hasPrefix("/storage/v1/b/flaky/") {
            return .init(status: 503, body: #"{"error":{"code":503,"message":"Backend Error"}}"#)
        }
        if request.method == "DELETE", request.path.hasPrefix("/storage/v1/b/bkt/o/") {
            shared.state.withLock {
                $0.deleted.append(String(request.path.dropFirst("/storage/v1/b/bkt/o/".count)))
            }
            return .init(status: 204)
        }
        if request.method == "POST", request.path == "/batch/storage/v1" {
            return .init(status: 404, body: "no batch here")
        }
        if request.method == "POST", request.path.hasPrefix("/upload/storage/v1/b/bkt/o?uploadType=resumable")
        {
            let metadataJSON = request.body
            shared.state.withLock {
                $0.metadataJSON = metadataJSON
                $0.total = Int(request.headers["x-upload-content-length"] ?? "") ?? -1
            }
            let host = request.headers["host"] ?? ""
            return .init(status: 200, headers: [("Location", "http://\(host)/upload/session/1")])
        }
        guard request.method == "PUT", request.path == "/upload/session/1",
            let range = request.headers["content-range"]
        else { return .init(status: 400, body: #"{"error":{"code":400,"message":"unexpected call"}}"#) }
        return shared.state.withLock { s -> StubHTTPServer.Response in
            if range.hasPrefix("bytes */") {
                s.statusQueries += 1
                return progress(s)
            }
            let spec = range.dropFirst("bytes ".count).split(separator: "/")[0].split(separator: "-")
            let start = Int(spec[0])!
            guard start == s.stored.count else {
                return .init(status: 400, body: #"{"error":{"code":400,"message":"wrong offset"}}"#)
            }
            s.chunkPuts += 1
            if s.chunkPuts == s.failChunk {
                // Keep only the first 256 KiB of this chunk, then fail, like a dropped connection.
                s.stored += request.body.prefix(256 << 10)
                return .init(status: 503, body: #"{"error":{"code":503,"message":"Backend Error"}}"#)
            }
            s.stored += request.body
            return progress(s)
        }
    }

    private static func progress(_ s: State) -> StubHTTPServer.Response {
        if s.stored.count == s.total { return .init(status: 200, body: objectJSON(s)) }
        if s.stored.isEmpty { return .init(status: 308) }
        return .init(status: 308, headers: [("Range", "bytes=0-\(s.stored.count - 1)")])
    }

    private static func objectJSON(_ s: State) -> String {
        let object: [String: Any] = [
            "name": s.metadata["name"] ?? "", "size": String(s.stored.count),
            "md5Hash": Data(Digest.md5(s.stored)).base64EncodedString(),
            "crc32c": CRC32C.base64(CRC32C.checksum(s.stored)), "generation": "7",
            "metadata": s.metadata["metadata"] ?? [:],
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
}

@Suite("GCS protocol details against a scripted server")
struct GCSProtocolTests {
    func configuration(_ api: FakeGCSAPI, bucket: String = "bkt", token: String = "good-token")
        -> GCSObjectStore.Configuration
    {
        var configuration = GCSObjectStore.Configuration(
            bucket: bucket, endpoint: api.server.url, credentials: GCSStaticTokenCredentials(token: token))
        configuration.resumableThreshold = 1
        configuration.chunkSize = 512 << 10
        return configuration
    }

    func payload(_ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) } }

    @Test("a chunk that fails mid-way continues from the offset the server reports")
    func recoversFromAFailedChunk() async throws {
        let api = try FakeGCSAPI(failChunk: 2)
        defer { api.stop() }
        let data = payload(1_500_000)
        let info = try await GCSObjectStore(configuration: configuration(api)).put(
            key: "k", source: .bytes(data))
        #expect(info.size == 1_500_000)
        let state = api.snapshot
        #expect(state.stored == data)
        #expect(state.statusQueries == 1)
        let metadata = try #require(state.metadata["metadata"] as? [String: String])
        #expect(metadata["cassnap-sha256"] == Digest.sha256(data).hexString)
        #expect(metadata["cassnap-size"] == "1500000")
        #expect(state.metadata["md5Hash"] as? String == Data(Digest.md5(data)).base64EncodedString())
        #expect(state.metadata["crc32c"] as? String == CRC32C.base64(CRC32C.checksum(data)))
    }

    @Test("after a restart the session's committed offset comes from a status query")
    func resumesFromTheServersOffset() async throws {
        let api = try FakeGCSAPI()
        defer { api.stop() }
        let sessions = InMemoryUploadSessionStore()
        let data = payload(2_000_000)
        var first = configuration(api)
        first.sessionStore = sessions
        first.testHooks.failAfterChunks = 2
        await #expect(throws: ObjectStoreError.self) {
            try await GCSObjectStore(configuration: first).put(key: "k", source: .bytes(data))
        }
        #expect(api.snapshot.stored.count == 1 << 20)

        var second = configuration(api)
        second.sessionStore = sessions
        let sent = Mutex(0)
        var source = ObjectSource.bytes(data)
        source.throttle = { n in sent.withLock { $0 += n } }
        _ = try await GCSObjectStore(configuration: second).put(key: "k", source: source)
        #expect(api.snapshot.statusQueries == 1)
        #expect(sent.withLock { $0 } == 2_000_000 - (1 << 20))
        #expect(api.snapshot.stored == data)
    }

    @Test("401 and 403 become accessDenied naming the bucket and the API's message; 503 is transient")
    func errorMapping() async throws {
        let api = try FakeGCSAPI()
        defer { api.stop() }
        let locked = GCSObjectStore(configuration: configuration(api, bucket: "locked"))
        do {
            _ = try await locked.head(key: "x")
            Issue.record("expected accessDenied")
        } catch let error as ObjectStoreError {
            guard case .accessDenied(_, let bucket, let detail) = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(bucket == "locked")
            #expect(detail.contains("does not have storage.objects.get access"))
            #expect(!error.isRetryable)
        }
        let wrongToken = GCSObjectStore(configuration: configuration(api, token: "stale-token"))
        do {
            _ = try await wrongToken.head(key: "x")
            Issue.record("expected accessDenied")
        } catch let error as ObjectStoreError {
            #expect(error.description.contains("Invalid Credentials"))
            #expect(!error.description.contains("stale-token"))
        }
        let flaky = GCSObjectStore(configuration: configuration(api, bucket: "flaky"))
        await #expect { try await flaky.head(key: "x") } throws: {
            ($0 as? ObjectStoreError)?.isRetryable == true
        }
    }

    @Test("without a batch endpoint, batch deletes fall back to single deletes")
    func batchFallback() async throws {
        let api = try FakeGCSAPI()
        defer { api.stop() }
        let keys = (0..<20).map { "dir/\($0)" }
        try await GCSObjectStore(configuration: configuration(api)).delete(keys: keys)
        #expect(api.snapshot.deleted.sorted() == keys.map { "dir%2F" + $0.dropFirst(4) }.sorted())
    }
}
