import CassnapObjectStore
import CassnapStoreFactory
import CassnapTestSupport
import Foundation
import Testing

/// Cloud detection against small local stand-ins of the metadata services.
@Suite struct CloudDetectorTests {
    static func fakeGCE(flavor: String = "Google") throws -> StubHTTPServer {
        try StubHTTPServer { request in
            guard request.headers["metadata-flavor"] == "Google" else { return .init(status: 403) }
            return .init(headers: [("Metadata-Flavor", flavor)], body: "my-project")
        }
    }

    /// Port 1 on loopback: privileged and never listened on, so connect is refused at once. (A
    /// port freed by a stopped server could be taken by a parallel test's fake in the meantime.)
    static func closedPort() throws -> String { "127.0.0.1:1" }

    @Test func awsIsDetectedThroughIMDSv2WithItsRegion() async throws {
        let imds = try StubHTTPServer.fakeIMDS()
        let detector = CloudDetector(environment: [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "GCE_METADATA_HOST": try Self.closedPort(),
            "BUCKET_NAME": "backups",
        ])
        let cloud = await detector.detect()
        #expect(cloud == .aws(region: "eu-west-3"))
        #expect(detector.defaultStoreURL(for: cloud) == "s3://backups?region=eu-west-3")
        #expect(imds.requests.map(\.method) == ["PUT", "GET"])
    }

    @Test func gceIsDetectedOnlyWhenTheServerAnswersAsGCE() async throws {
        let gce = try Self.fakeGCE()
        let closed = try Self.closedPort()
        let detector = CloudDetector(environment: [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://" + closed, "GCE_METADATA_HOST": gce.hostAndPort,
            "BUCKET_NAME": "backups",
        ])
        let cloud = await detector.detect()
        #expect(cloud == .gce(project: "my-project"))
        #expect(detector.defaultStoreURL(for: cloud) == "gs://backups")

        let impostor = try Self.fakeGCE(flavor: "NotGoogle")
        let fooled = await CloudDetector(environment: [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://" + closed,
            "GCE_METADATA_HOST": impostor.hostAndPort,
        ]).detect()
        #expect(fooled == Cloud.none)
    }

    @Test func noCloudAndNoBucketMeansNoDefaultStore() async throws {
        let closed = try Self.closedPort()
        let detector = CloudDetector(environment: [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://" + closed, "GCE_METADATA_HOST": closed,
        ])
        let cloud = await detector.detect()
        #expect(cloud == Cloud.none)
        #expect(detector.defaultStoreURL(for: cloud) == nil)
        #expect(detector.defaultStoreURL(for: .aws(region: nil)) == nil, "no BUCKET_NAME, no default")
    }

    @Test func imdsCanBeSwitchedOff() async throws {
        let imds = try StubHTTPServer.fakeIMDS()
        let cloud = await CloudDetector(environment: [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_EC2_METADATA_DISABLED": "true",
            "GCE_METADATA_HOST": try Self.closedPort(),
        ]).detect()
        #expect(cloud == Cloud.none)
        #expect(imds.requests.isEmpty)
    }
}

/// One function maps URLs to stores; bad URLs say what is wrong.
@Suite struct ObjectStoreFactoryTests {
    @Test func schemesMapToTheirBackends() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cassnap-factory-\(UUID())")
            .path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try ObjectStoreFactory.backend(url: "file://" + dir) is FileSystemObjectStore)
        #expect(try ObjectStoreFactory.backend(url: "memory://x") is InMemoryObjectStore)
        let s3 = try ObjectStoreFactory.backend(
            url: "s3://bucket-a/some/prefix",
            environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(s3.displayName == "s3://bucket-a/some/prefix")
        let gs = try ObjectStoreFactory.backend(
            url: "gs://bucket-b/p", environment: ["STORAGE_EMULATOR_HOST": "127.0.0.1:9"])
        #expect(gs.displayName == "gs://bucket-b/p")
    }

    @Test(arguments: [
        ("backups/here", "expected a URL"),
        ("ftp://host/x", "unknown scheme 'ftp'"),
        ("file://relative/path", "absolute path"),
        ("s3://", "bucket"),
        ("gs://UPPER/x", "bucket name"),
    ])
    func badURLsAreClearErrors(url: String, mentions: String) {
        #expect {
            try ObjectStoreFactory.backend(url: url, environment: [:])
        } throws: { error in
            guard case .invalidURL(let u, let reason) = error as? ObjectStoreError else { return false }
            return u == url && reason.contains(mentions)
        }
    }

    @Test func wrappersAreStackedAsConfigured() throws {
        var settings = StoreSettings()
        settings.bandwidthBytesPerSecond = 1 << 20
        settings.maxConcurrentRequests = 3
        let store = try ObjectStoreFactory.open(url: "memory://w", settings: settings)
        let limited = try #require(store as? ConcurrencyLimitedObjectStore)
        let retrying = try #require(limited.base as? RetryingObjectStore)
        #expect(retrying.base is BandwidthLimitedObjectStore)
    }
}
