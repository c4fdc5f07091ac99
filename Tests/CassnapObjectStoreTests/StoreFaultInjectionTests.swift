import CassnapCrypto
import CassnapGCS
import CassnapObjectStore
import CassnapS3
import CassnapTestSupport
import Foundation
import Testing

/// Bad networks between cassnap and a real server: the fault proxy sits in front of moto or
/// fake-gcs-server and breaks chosen connections. Nothing corrupt may ever count as stored.
@Suite("Store fault injection") struct StoreFaultInjectionTests {
    struct Rig {
        let fixture: StoreFixture
        let proxy: FaultProxy
        let retrying: RetryingObjectStore
        var store: any ObjectStore { fixture.store }
    }

    func rig(_ kind: StoreKind) async throws -> Rig {
        let upstream = kind == .gcs ? try TestServers.requireGCS() : try TestServers.requireS3()
        let proxy = try FaultProxy(upstream: upstream)
        let fixture = try await StoreFixture.make(kind, endpointOverride: proxy.url)
        let policy = RetryingObjectStore.Policy(
            maxAttempts: 6, baseDelay: .milliseconds(10), maxDelay: .milliseconds(100))
        return Rig(
            fixture: fixture, proxy: proxy, retrying: RetryingObjectStore(fixture.store, policy: policy))
    }

    func payload(_ size: Int, seed: UInt8) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test(arguments: StoreKind.cloud)
    func serverErrorsAreRetriedUntilTheObjectIsStored(kind: StoreKind) async throws {
        let r = try await rig(kind)
        defer { r.fixture.cleanUp() }
        let bytes = payload(200_000, seed: 1)
        r.proxy.inject(.respond(status: 503), .respond(status: 500), .respond(status: 429))
        let info = try await r.retrying.put(key: "retried", source: .bytes(bytes))
        #expect(r.proxy.injectedCount == 3)
        #expect(info.sha256 == Digest.sha256(bytes).hexString)
        _ = try await r.store.get(key: "retried", to: r.fixture.scratch + "/out")
        #expect(try Data(contentsOf: URL(fileURLWithPath: r.fixture.scratch + "/out")) == Data(bytes))
    }

    @Test(arguments: StoreKind.cloud)
    func connectionResetsAreRetried(kind: StoreKind) async throws {
        let r = try await rig(kind)
        defer { r.fixture.cleanUp() }
        let bytes = payload(300_000, seed: 2)
        r.proxy.inject(.resetImmediately, .resetAfterRequestBodyBytes(50_000))
        _ = try await r.retrying.put(key: "reset", source: .bytes(bytes))
        #expect(r.proxy.injectedCount == 2)
        _ = try await r.store.get(key: "reset", to: r.fixture.scratch + "/out")
        #expect(try Data(contentsOf: URL(fileURLWithPath: r.fixture.scratch + "/out")) == Data(bytes))
    }

    @Test(arguments: StoreKind.cloud)
    func aBodyCorruptedInTransitIsNeverRecordedAsStored(kind: StoreKind) async throws {
        let r = try await rig(kind)
        defer { r.fixture.cleanUp() }
        let bytes = payload(100_000, seed: 3)
        r.proxy.inject(.flipRequestBodyByte(at: 60_000))
        await #expect(throws: ObjectStoreError.self) {
            try await r.store.put(key: "corrupt", source: .bytes(bytes))
        }
        #expect(r.proxy.injectedCount == 1)
        #expect(try await r.store.headIfExists(key: "corrupt") == nil)

        // Through the retry wrapper the same fault costs one attempt and the object lands intact.
        r.proxy.inject(.flipRequestBodyByte(at: 60_000))
        let info = try await r.retrying.put(key: "corrupt", source: .bytes(bytes))
        #expect(r.proxy.injectedCount == 2)
        #expect(info.sha256 == Digest.sha256(bytes).hexString)
        _ = try await r.store.get(key: "corrupt", to: r.fixture.scratch + "/out")
        #expect(try Data(contentsOf: URL(fileURLWithPath: r.fixture.scratch + "/out")) == Data(bytes))
    }

    @Test(arguments: StoreKind.cloud)
    func corruptOrTruncatedDownloadsAreDetected(kind: StoreKind) async throws {
        let r = try await rig(kind)
        defer { r.fixture.cleanUp() }
        let bytes = payload(150_000, seed: 4)
        _ = try await r.store.put(key: "download", source: .bytes(bytes))
        let target = r.fixture.scratch + "/out"
        // Aim at the download itself, not the metadata request a GCS get makes first.
        let download = kind == .gcs ? "alt=media" : "GET /"

        r.proxy.inject(.flipResponseBodyByte(at: 70_000), matching: download)
        await #expect(throws: ObjectStoreError.self) { try await r.store.get(key: "download", to: target) }
        #expect(!FileManager.default.fileExists(atPath: target))

        r.proxy.inject(.truncateResponseBody(after: 10_000), matching: download)
        await #expect(throws: (any Error).self) { try await r.store.get(key: "download", to: target) }
        #expect(!FileManager.default.fileExists(atPath: target))

        r.proxy.inject(.truncateResponseBody(after: 10_000), .flipResponseBodyByte(at: 5), matching: download)
        _ = try await r.retrying.get(key: "download", to: target)
        #expect(r.proxy.pendingFaults == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == Data(bytes))
    }

    @Test(arguments: StoreKind.cloud)
    func aMissingBucketIsAClearPermanentError(kind: StoreKind) async throws {
        let store: any ObjectStore
        if kind == .gcs {
            store = GCSObjectStore(
                configuration: try GCSObjectStore.Configuration(
                    url: "gs://cassnap-no-such-bucket/x",
                    environment: ["STORAGE_EMULATOR_HOST": try TestServers.requireGCS()]))
        } else {
            store = try S3ObjectStore(
                configuration: S3ObjectStore.Configuration(
                    bucket: "cassnap-no-such-bucket", endpoint: try TestServers.requireS3(),
                    credentials: StaticCredentialsProvider(accessKeyId: "testing", secretAccessKey: "testing")
                ))
        }
        let attempts = AttemptCounter()
        let retrying = RetryingObjectStore(store, policy: .init(baseDelay: .milliseconds(1))) { _, _, _, _ in
            attempts.add()
        }
        await #expect {
            try await retrying.put(key: "k", source: .string("x"))
        } throws: { error in
            guard case .noSuchBucket(_, let bucket) = error as? ObjectStoreError else { return false }
            return bucket == "cassnap-no-such-bucket" && "\(error)".contains("cassnap-no-such-bucket")
        }
        #expect(attempts.count == 0, "a missing bucket must not be retried")
    }

    /// moto with authentication on does not know our key: a clear error naming the bucket and
    /// the cause, and no retry.
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func wrongCredentialsAreAClearErrorAndNotRetried() async throws {
        let store = try S3ObjectStore(
            configuration: S3ObjectStore.Configuration(
                bucket: "cassnap-auth-test", endpoint: try TestServers.requireS3Auth(),
                credentials: StaticCredentialsProvider(
                    accessKeyId: "AKIAWRONGWRONGWRONG", secretAccessKey: "nope")))
        let attempts = AttemptCounter()
        let retrying = RetryingObjectStore(store, policy: .init(baseDelay: .milliseconds(1))) { _, _, _, _ in
            attempts.add()
        }
        await #expect {
            try await retrying.put(key: "k", source: .string("x"))
        } throws: { error in
            guard case .accessDenied(_, let bucket, let detail) = error as? ObjectStoreError else {
                return false
            }
            return bucket == "cassnap-auth-test" && detail.contains("InvalidAccessKeyId")
        }
        #expect(attempts.count == 0)
    }

    /// `rclone serve s3` checks signatures: a wrong secret is refused, the right one works.
    @Test(
        .enabled(
            if: TestServers.rcloneS3 != nil || TestServers.isCI, "needs rclone serve s3: run `make test`"))
    func rcloneRejectsABadSignature() async throws {
        let rclone = try TestServers.requireRcloneS3()
        let good = try await StoreFixture.make(.s3Rclone)
        defer { good.cleanUp() }
        _ = try await good.store.put(key: "signed", source: .string("ok"))
        let bad = try S3ObjectStore(
            configuration: S3ObjectStore.Configuration(
                bucket: "cassnap-sig", endpoint: rclone.endpoint,
                credentials: StaticCredentialsProvider(
                    accessKeyId: rclone.accessKey, secretAccessKey: "wrong-secret")))
        await #expect {
            try await bad.list(prefix: "")
        } throws: { error in
            if case .accessDenied = error as? ObjectStoreError { return true }
            return false
        }
    }
}

final class AttemptCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}
