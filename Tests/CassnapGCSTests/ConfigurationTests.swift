import CassnapObjectStore
import Testing

@testable import CassnapGCS

@Suite("GCS configuration and wire formats")
struct ConfigurationTests {
    @Test("gs://bucket/prefix with STORAGE_EMULATOR_HOST, with or without a scheme")
    func emulatorURL() throws {
        let plain = try GCSObjectStore.Configuration(
            url: "gs://my-bucket/backups/prod/", environment: ["STORAGE_EMULATOR_HOST": "127.0.0.1:4443"])
        #expect(plain.bucket == "my-bucket")
        #expect(plain.prefix == "backups/prod")
        #expect(plain.endpoint == "http://127.0.0.1:4443")
        #expect(plain.credentials is GCSAnonymousCredentials)
        #expect(plain.resumeOffset == .recorded)

        let https = try GCSObjectStore.Configuration(
            url: "gs://b12",
            environment: ["STORAGE_EMULATOR_HOST": "https://gcs.local:4443/", "GOOGLE_CLOUD_PROJECT": "p1"])
        #expect(https.endpoint == "https://gcs.local:4443")
        #expect(https.prefix == "")
        #expect(https.project == "p1")
        #expect(GCSObjectStore(configuration: https).displayName == "gs://b12")
        #expect(GCSObjectStore(configuration: plain).displayName == "gs://my-bucket/backups/prod")
    }

    @Test("without an emulator: the real endpoint and the server's view of resumable offsets")
    func productionURL() throws {
        let configuration = try GCSObjectStore.Configuration(
            url: "gs://prod-backups/c1", environment: ["HOME": "/nonexistent"])
        #expect(configuration.endpoint == "https://storage.googleapis.com")
        #expect(configuration.resumeOffset == .server)
        #expect(configuration.credentials is GCSMetadataServerCredentials)
    }

    @Test(
        "malformed URLs are refused with a reason",
        arguments: [
            "s3://bucket/x", "gs://", "gs:///prefix", "gs://UPPER/x", "gs://ab", "gs://-bucket",
            "gs://b_c/../x",
            "gs://bucket/a?x=1",
        ])
    func badURLs(_ url: String) {
        #expect {
            try GCSObjectStore.Configuration(url: url, environment: ["STORAGE_EMULATOR_HOST": "localhost:1"])
        } throws: { error in
            guard let error = error as? ObjectStoreError, case .invalidURL = error else { return false }
            return true
        }
    }

    @Test("chunk sizes round down to 256 KiB multiples")
    func chunkSize() {
        var configuration = GCSObjectStore.Configuration(bucket: "b", credentials: GCSAnonymousCredentials())
        configuration.chunkSize = 1_000_000
        #expect(configuration.effectiveChunkSize == 786_432)
        configuration.chunkSize = 1
        #expect(configuration.effectiveChunkSize == 262_144)
    }

    @Test("Range headers of 308 answers")
    func committedBytes() {
        #expect(GCSObjectStore.committedBytes(nil) == 0)
        #expect(GCSObjectStore.committedBytes("bytes=0-262143") == 262_144)
        #expect(GCSObjectStore.committedBytes("bytes=0-0") == 1)
        #expect(GCSObjectStore.committedBytes("garbage") == 0)
    }

    @Test("object names are percent-encoded in paths")
    func encoding() {
        #expect(PercentEncoding.encode("a/b c+d~e.f_g-h") == "a%2Fb%20c%2Bd~e.f_g-h")
        #expect(PercentEncoding.encode("ü") == "%C3%BC")
    }

    @Test("batch answers split into per-call statuses")
    func batchParsing() {
        let body = """
            --abc\r
            Content-Type: application/http\r
            Content-ID: <response-0>\r
            \r
            HTTP/1.1 204 No Content\r
            Content-Length: 0\r
            \r
            \r
            --abc\r
            Content-Type: application/http\r
            Content-ID: <response-1>\r
            \r
            HTTP/1.1 403 Forbidden\r
            Content-Type: application/json\r
            \r
            {"error":{"code":403,"message":"no delete for you"}}\r
            --abc--\r

            """
        let parts = GCSObjectStore.batchParts(Array(body.utf8), boundary: "abc")
        #expect(parts.map(\.status) == [204, 403])
        #expect(parts.map(\.contentID) == [0, 1])
        #expect(GCSErrorBody.message(parts[1].body) == "no delete for you")
        #expect(GCSObjectStore.boundary("multipart/mixed; boundary=\"xyz\"") == "xyz")
    }
}
