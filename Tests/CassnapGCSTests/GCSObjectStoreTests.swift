import CassnapCrypto
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Synchronization
import Testing

@testable import CassnapGCS

/// A fresh bucket on the fake-gcs-server that `deploy/test.sh` starts, and helpers around it.
struct EmulatorBucket {
    let endpoint: String
    let bucket: String
    let directory: String

    init() async throws {
        endpoint = try TestServers.requireGCS()
        bucket = "cassnap-test-" + UUID().uuidString.prefix(8).lowercased()
        directory = NSTemporaryDirectory() + "cassnap-gcs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await GCSObjectStore(configuration: configuration()).createBucket()
    }

    func configuration(prefix: String = "", bucket: String? = nil) -> GCSObjectStore.Configuration {
        var configuration = GCSObjectStore.Configuration(
            bucket: bucket ?? self.bucket, prefix: prefix, endpoint: endpoint,
            credentials: GCSAnonymousCredentials())
        configuration.project = "cassnap-test"
        configuration.resumeOffset = .recorded  // fake-gcs-server finalizes on a status query
        return configuration
    }

    func store(_ change: (inout GCSObjectStore.Configuration) -> Void = { _ in }) -> GCSObjectStore {
        var configuration = configuration()
        change(&configuration)
        return GCSObjectStore(configuration: configuration)
    }

    /// Writes `size` pseudo-random bytes (never the same twice) and returns the path.
    func file(_ name: String, size: Int) throws -> String {
        let path = directory + "/" + name
        var state = UInt64.random(in: 1...UInt64.max)
        var bytes = [UInt8](repeating: 0, count: size)
        for i in 0..<size {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[i] = UInt8(truncatingIfNeeded: state)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func sha256(_ path: String) throws -> String {
        Digest.sha256(try Data(contentsOf: URL(fileURLWithPath: path))).hexString
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Counts bytes handed to the transport through the source's throttle callback.
final class ByteCounter: Sendable {
    private let count = Mutex<Int64>(0)
    var value: Int64 { count.withLock { $0 } }
    func source(_ path: String) -> ObjectSource {
        var source = ObjectSource.file(path)
        source.throttle = { n in self.count.withLock { $0 += Int64(n) } }
        return source
    }
}

private func sameBytes(_ a: String, _ b: String) -> Bool {
    FileManager.default.contentsEqual(atPath: a, andPath: b)
}

@Suite("GCSObjectStore against fake-gcs-server", .serialized)
struct GCSObjectStoreTests {
    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func putHeadGetDelete() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let store = emulator.store()
        let path = try emulator.file("small.db", size: 300_000)

        let info = try await store.put(key: "ks/t-1/nb-1-big-Data.db", source: .file(path))
        #expect(info.size == 300_000)
        #expect(info.sha256 == (try emulator.sha256(path)))

        let head = try await store.head(key: "ks/t-1/nb-1-big-Data.db")
        #expect(head.size == 300_000)
        #expect(head.sha256 == info.sha256)
        #expect(head.lastModified != nil)

        let target = emulator.directory + "/restored.db"
        let got = try await store.get(key: "ks/t-1/nb-1-big-Data.db", to: target)
        #expect(got.sha256 == info.sha256)
        #expect(sameBytes(path, target))
        // Only the target is left: the temporary file was renamed.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: emulator.directory).sorted() == [
                "restored.db", "small.db",
            ])

        let manifest = try await store.put(key: "snapshots/t/manifest.json", source: .string("{\"ok\":true}"))
        #expect(manifest.size == 11)
        let manifestPath = emulator.directory + "/manifest.json"
        _ = try await store.get(key: "snapshots/t/manifest.json", to: manifestPath)
        #expect(try String(contentsOfFile: manifestPath, encoding: .utf8) == "{\"ok\":true}")

        let empty = try await store.put(key: "empty", source: .bytes([]))
        #expect(empty.size == 0)
        #expect(try await store.head(key: "empty").size == 0)

        try await store.delete(key: "ks/t-1/nb-1-big-Data.db")
        try await store.delete(key: "ks/t-1/nb-1-big-Data.db")  // idempotent
        await #expect { try await store.head(key: "ks/t-1/nb-1-big-Data.db") } throws: { error in
            (error as? ObjectStoreError)?.isNotFound == true
        }
        await #expect { try await store.get(key: "missing", to: emulator.directory + "/x") } throws: {
            error in
            (error as? ObjectStoreError)?.isNotFound == true
        }
        #expect(!FileManager.default.fileExists(atPath: emulator.directory + "/x"))
    }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func fileRangesAndPrefixes() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let store = GCSObjectStore(configuration: emulator.configuration(prefix: "root/cluster"))
        let path = try emulator.file("big.bin", size: 100_000)
        let info = try await store.put(key: "part", source: .file(path, offset: 1000, length: 5000))
        #expect(info.size == 5000)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(info.sha256 == Digest.sha256(whole[1000..<6000]).hexString)
        let target = emulator.directory + "/part"
        _ = try await store.get(key: "part", to: target)
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == whole[1000..<6000])
        // The object lives under the prefix; keys come back without it.
        let raw = GCSObjectStore(configuration: emulator.configuration())
        #expect(try await raw.list(prefix: "").map(\.key) == ["root/cluster/part"])
        #expect(try await store.list(prefix: "").map(\.key) == ["part"])
    }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func listPagesThroughEverything() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let store = emulator.store { $0.maxResults = 2 }
        let keys = (0..<7).map { "nodes/h1/data/ks/t/nb-\($0)-big-Data.db" }
        for key in keys.reversed() { _ = try await store.put(key: key, source: .string(key)) }
        _ = try await store.put(key: "nodes/h2/other", source: .string("x"))
        _ = try await store.put(key: "nodes/h10", source: .string("y"))

        let listed = try await store.list(prefix: "nodes/h1/")
        #expect(listed.map(\.key) == keys.sorted())
        #expect(listed.allSatisfy { $0.sha256 != nil && $0.size > 0 })
        #expect(try await store.list(prefix: "nodes/h1").count == 8)  // plain string prefix
        #expect(try await store.list(prefix: "none/").isEmpty)
    }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func batchDelete() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let store = emulator.store { $0.batchSize = 3 }
        let keys = (0..<8).map { "d/\($0)" }
        for key in keys { _ = try await store.put(key: key, source: .string(key)) }
        _ = try await store.put(key: "keep", source: .string("keep"))
        try await store.delete(keys: keys + ["d/never-existed"])
        #expect(try await store.list(prefix: "").map(\.key) == ["keep"])
        try await store.delete(keys: [])
    }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func resumableUploadOfALargeFile() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let store = emulator.store {
            $0.resumableThreshold = 4 << 20
            $0.chunkSize = 1 << 20
        }
        let path = try emulator.file("large.db", size: 40 << 20)
        let counter = ByteCounter()
        let info = try await store.put(key: "large.db", source: counter.source(path))
        #expect(info.size == 40 << 20)
        #expect(counter.value == 40 << 20)
        let target = emulator.directory + "/large.restored"
        let got = try await store.get(key: "large.db", to: target)
        #expect(got.sha256 == (try emulator.sha256(path)))
        #expect(sameBytes(path, target))
    }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func resumesAnInterruptedUploadWhereItStopped() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let sessions = try DirectoryUploadSessionStore(directory: emulator.directory + "/sessions")
        let path = try emulator.file("resume.db", size: 10 << 20)
        func configure(_ configuration: inout GCSObjectStore.Configuration) {
            configuration.resumableThreshold = 1 << 20
            configuration.chunkSize = 1 << 20
            configuration.sessionStore = sessions
        }

        let first = emulator.store {
            configure(&$0)
            $0.testHooks.failAfterChunks = 3
        }
        let firstCounter = ByteCounter()
        await #expect(throws: ObjectStoreError.self) {
            try await first.put(key: "resume.db", source: firstCounter.source(path))
        }
        #expect(firstCounter.value == 3 << 20)
        await #expect { try await first.head(key: "resume.db") } throws: {
            ($0 as? ObjectStoreError)?.isNotFound == true
        }

        // A new process: a new store instance, the same session store.
        let second = emulator.store { configure(&$0) }
        let secondCounter = ByteCounter()
        let info = try await second.put(key: "resume.db", source: secondCounter.source(path))
        #expect(secondCounter.value == 7 << 20)
        #expect(info.size == 10 << 20)
        let target = emulator.directory + "/resume.restored"
        _ = try await second.get(key: "resume.db", to: target)
        #expect(sameBytes(path, target))
        #expect(try await sessions.session(key: "resume.db", fingerprint: "") == nil)

        // Different bytes under the same key never resume the old session.
        let third = emulator.store {
            configure(&$0)
            $0.testHooks.failAfterChunks = 2
        }
        let other = try emulator.file("other.db", size: 3 << 20)
        await #expect(throws: ObjectStoreError.self) {
            try await third.put(key: "resume.db", source: .file(other))
        }
        let changed = try emulator.file("changed.db", size: 3 << 20)
        let counter = ByteCounter()
        _ = try await second.put(key: "resume.db", source: counter.source(changed))
        #expect(counter.value == 3 << 20)
        _ = try await second.get(key: "resume.db", to: target)
        #expect(sameBytes(changed, target))
    }

    @Test(
        .enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"),
        arguments: [100_000, 3 << 20])
    func bytesThatChangeInFlightAreNeverRecorded(size: Int) async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let path = try emulator.file("changing.db", size: size)
        let store = emulator.store {
            $0.resumableThreshold = 1 << 20
            $0.chunkSize = 1 << 20
            // The file changes after it was hashed, as if Cassandra rewrote it mid-upload.
            $0.testHooks.afterHashing = {
                let handle = FileHandle(forUpdatingAtPath: path)!
                handle.seek(toFileOffset: UInt64(size / 2))
                handle.write(Data([0x42, 0x43, 0x44]))
                handle.closeFile()
            }
        }
        await #expect {
            try await store.put(key: "changing.db", source: .file(path))
        } throws: { error in
            guard let error = error as? ObjectStoreError, case .checksumMismatch(_, let key, _, _) = error
            else { return false }
            return key == "changing.db"
        }
        await #expect { try await store.head(key: "changing.db") } throws: {
            ($0 as? ObjectStoreError)?.isNotFound == true
        }
    }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func missingBucketIsNamed() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let store = GCSObjectStore(configuration: emulator.configuration(bucket: "cassnap-no-such-bucket"))
        func isNoSuchBucket(_ error: any Error) -> Bool {
            guard let error = error as? ObjectStoreError, case .noSuchBucket(_, let bucket) = error else {
                return false
            }
            return bucket == "cassnap-no-such-bucket" && error.description.contains("cassnap-no-such-bucket")
        }
        await #expect(performing: { try await store.head(key: "a") }, throws: isNoSuchBucket)
        await #expect(performing: { try await store.list(prefix: "") }, throws: isNoSuchBucket)
        await #expect(
            performing: { try await store.put(key: "a", source: .string("x")) }, throws: isNoSuchBucket)
        await #expect(
            performing: { try await store.get(key: "a", to: emulator.directory + "/a") },
            throws: isNoSuchBucket)
        await #expect(performing: { try await store.delete(key: "a") }, throws: isNoSuchBucket)
        await #expect(performing: { try await store.delete(keys: ["a", "b"]) }, throws: isNoSuchBucket)
    }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func invalidKeysAreRefusedBeforeAnyCall() async throws {
        let emulator = try await EmulatorBucket()
        defer { emulator.remove() }
        let store = emulator.store()
        for key in ["", "/abs", "a/../b", "a//b"] {
            await #expect(throws: ObjectStoreError.self) {
                try await store.put(key: key, source: .string("x"))
            }
        }
    }
}
