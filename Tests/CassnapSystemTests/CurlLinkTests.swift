import CassnapCrypto
import CassnapHTTP
import CassnapTestSupport
import Foundation
import Testing

/// Proves the libcurl link against the real S3 server the test command starts.
@Suite struct CurlLinkTests {
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func getAgainstTheLocalS3Server() async throws {
        let endpoint = try TestServers.requireS3()
        let client = CurlHTTPClient()
        let response = try await client.perform(HTTPRequest(method: "GET", url: endpoint + "/"))
        #expect(response.status == 200)
        #expect(response.bodyText.contains("ListAllMyBucketsResult"))
    }

    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func putStreamsFromAFileRangeAndGetStreamsToAFile() async throws {
        let endpoint = try TestServers.requireS3()
        let client = CurlHTTPClient()
        let bucket = "curl-link-\(UInt32.random(in: 0...UInt32.max))"
        #expect(
            try await client.perform(HTTPRequest(method: "PUT", url: "\(endpoint)/\(bucket)")).status == 200)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cassnap-curl-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = [UInt8](repeating: 0, count: 1_048_583)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
        let source = dir.appendingPathComponent("src").path
        _ = FileManager.default.createFile(atPath: source, contents: Data(bytes))
        let fd = open(source, O_RDONLY)
        defer { close(fd) }

        let put = try await client.perform(
            HTTPRequest(
                method: "PUT", url: "\(endpoint)/\(bucket)/part",
                body: .file(fd: fd, offset: 1000, length: 500_000)))
        #expect(put.status == 200)

        // S3 answers a single PUT with the MD5 of the body as ETag: proof the exact range arrived.
        #expect(put.header("ETag") == "\"\(Digest.md5(bytes[1000..<501_000]).hexString)\"")

        // moto refuses anonymous object reads; the bucket listing streams to a file sink instead.
        let target = dir.appendingPathComponent("listing.xml").path
        let out = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let get = try await client.perform(
            HTTPRequest(method: "GET", url: "\(endpoint)/", sink: .file(fd: out)))
        close(out)
        #expect(get.status == 200)
        #expect(get.body.isEmpty)
        #expect(get.bytesWritten > 0)
        let listing = try String(contentsOfFile: target, encoding: .utf8)
        #expect(listing.contains("<Name>\(bucket)</Name>"))
        #expect(Int64(listing.utf8.count) == get.bytesWritten)
    }

    @Test func connectionRefusedIsARetryableTransportError() async throws {
        // Port 1 on loopback: nothing listens there, so connect fails at once.
        let client = CurlHTTPClient()
        await #expect {
            _ = try await client.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:1/"))
        } throws: { error in
            guard let e = error as? HTTPError else { return false }
            return e.isRetryable && e.description.contains("127.0.0.1:1")
        }
    }
}

/// The GCS emulator the test command starts answers the JSON API.
@Suite struct GCSEmulatorReachableTests {
    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func bucketListAnswers() async throws {
        let endpoint = try TestServers.requireGCS()
        let response = try await CurlHTTPClient().perform(
            HTTPRequest(method: "GET", url: endpoint + "/storage/v1/b?project=cassnap-test"))
        #expect(response.status == 200)
        #expect(response.bodyText.contains("\"kind\""))
    }
}

/// A curl transfer runs on a blocking thread; cancelling its task must abort it (issue 12),
/// not leave the thread waiting for a peer that never answers.
@Suite struct CurlCancellationTests {
    /// A loopback listener that completes TCP handshakes (the kernel does) and never reads or
    /// answers: a request to it waits until the client gives up.
    final class SilentServer {
        let fd: Int32
        let port: UInt16
        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, len) == 0 && listen(listener, 8) == 0
                        && getsockname(listener, $0, &len) == 0
                }
            }
            guard ok else {
                close(listener)
                throw POSIXError(.EADDRNOTAVAIL)
            }
            fd = listener
            port = UInt16(bigEndian: addr.sin_port)
        }
        deinit { close(fd) }
    }

    @Test func cancellingTheTaskAbortsATransferWaitingForAnAnswer() async throws {
        let server = try SilentServer()
        var configuration = HTTPClientConfiguration()
        configuration.lowSpeedTime = .seconds(120)  // left alone, the request would wait 2 minutes
        let client = CurlHTTPClient(configuration: configuration)
        let started = ContinuousClock.now
        let transfer = Task {
            try await client.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/"))
        }
        try await Task.sleep(for: .milliseconds(500))  // connected, request sent, waiting
        transfer.cancel()
        let outcome = await transfer.result
        let elapsed = ContinuousClock.now - started
        #expect(throws: CancellationError.self) { try outcome.get() }
        // Bounded far below the 120 s the transfer would otherwise take: the abort came from
        // the cancellation, not from a timeout.
        #expect(elapsed < .seconds(30), "took \(elapsed)")

        // The aborted handle went back to the pool; the client's next transfer works.
        let stub = try StubHTTPServer { _ in .init(status: 200, body: "ok") }
        defer { stub.stop() }
        let next = try await client.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(stub.port)/"))
        #expect(next.status == 200 && next.bodyText == "ok")
    }

    @Test func aTaskCancelledBeforeTheTransferNeverStartsIt() async throws {
        let server = try SilentServer()
        let client = CurlHTTPClient()
        let transfer = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.perform(
                HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/"))
        }
        await #expect(throws: CancellationError.self) { try await transfer.value }
    }
}
