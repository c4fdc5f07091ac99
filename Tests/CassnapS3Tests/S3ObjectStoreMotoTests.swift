import CassnapCrypto
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Synchronization
import Testing

@testable import CassnapS3

/// Round trips against a real S3 server (moto_server, started by `make test`).
@Suite(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
struct S3ObjectStoreMotoTests {
    static func makeStore(
        bucket: String, prefix: String = "", create: Bool = true,
        configure: (inout S3ObjectStore.Configuration) -> Void = { _ in }
    ) async throws -> S3ObjectStore {
        let endpoint = try TestServers.requireS3()
        var configuration = S3ObjectStore.Configuration(
            bucket: bucket, prefix: prefix, region: "us-east-1", endpoint: endpoint,
            credentials: StaticCredentialsProvider(accessKeyId: "testing", secretAccessKey: "testing"))
        configure(&configuration)
        let store = try S3ObjectStore(configuration: configuration)
        if create { try await store.createBucket() }
        return store
    }

    static func uniqueBucket() -> String { "cassnap-s3-\(UUID().uuidString.prefix(13).lowercased())" }

    @Test func putHeadGetListDeleteRoundTrip() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let store = try await Self.makeStore(bucket: Self.uniqueBucket(), prefix: "root/p") { $0.maxKeys = 2 }

        let manifest = Array(#"{"tag":"daily"}"#.utf8)
        let small = try scratch.file("small.db", bytes: Self.pseudoRandom(300_001, seed: 1))
        let odd = "ks/t-1/with space+plus&amp=ሴ.db"
        let a = try await store.put(key: "ks/t-1/manifest.json", source: .bytes(manifest))
        #expect(a.sha256 == Digest.sha256(manifest).hexString && a.size == Int64(manifest.count))
        let b = try await store.put(key: odd, source: .file(small))
        let c = try await store.put(key: "ks/t-2/range.db", source: .file(small, offset: 1000, length: 5000))
        _ = try await store.put(key: "ks/t-2/empty.db", source: .bytes([]))
        _ = try await store.put(key: "other/x", source: .string("x"))

        let head = try await store.head(key: odd)
        #expect(head.size == 300_001)
        #expect(head.sha256 == b.sha256)
        #expect(head.sha256 == Digest.sha256(try Self.contents(small)).hexString)

        // get: byte-exact, replaces the target only when complete.
        let target = scratch.path + "/restore/deep/small.db"
        let got = try await store.get(key: odd, to: target)
        #expect(got.size == 300_001 && got.sha256 == b.sha256)
        #expect(try Self.contents(target) == Self.contents(small))
        _ = try await store.get(key: "ks/t-2/range.db", to: target)
        #expect(try Self.contents(target) == Array(Self.contents(small)[1000..<6000]))
        #expect(c.size == 5000)
        _ = try await store.get(key: "ks/t-2/empty.db", to: scratch.path + "/empty")
        #expect(try Self.contents(scratch.path + "/empty").isEmpty)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/restore/deep") == [
                "small.db"
            ])

        // list: every page (max-keys 2), sorted, relative to the store's prefix.
        let all = try await store.list(prefix: "")
        #expect(
            all.map(\.key)
                == ["ks/t-1/manifest.json", odd, "ks/t-2/empty.db", "ks/t-2/range.db", "other/x"].sorted())
        #expect(all.first { $0.key == odd }?.size == 300_001)
        #expect(try await store.list(prefix: "ks/t-2/").map(\.key) == ["ks/t-2/empty.db", "ks/t-2/range.db"])
        #expect(try await store.list(prefix: "ks/t-").count == 4)
        #expect(try await store.list(prefix: "nothing/").isEmpty)

        // Missing keys.
        await #expect(throws: ObjectStoreError.self) { try await store.head(key: "ks/missing") }
        #expect(try await store.headIfExists(key: "ks/missing") == nil)
        do {
            _ = try await store.get(key: "ks/missing", to: scratch.path + "/missing")
            Issue.record("get of a missing key succeeded")
        } catch let error as ObjectStoreError {
            #expect(error.isNotFound, "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/missing"))

        // delete is idempotent.
        try await store.delete(key: "other/x")
        try await store.delete(key: "other/x")
        #expect(try await store.headIfExists(key: "other/x") == nil)

        // Batch delete, including keys that never existed.
        try await store.delete(keys: [
            "ks/t-1/manifest.json", odd, "ks/t-2/empty.db", "ks/t-2/range.db", "never/was",
        ])
        #expect(try await store.list(prefix: "").isEmpty)
    }

    @Test func batchDeleteOverOneThousandKeys() async throws {
        let store = try await Self.makeStore(bucket: Self.uniqueBucket())
        let keys = (0..<1_005).map { "many/\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: keys.count, by: 100) {
                group.addTask {
                    for key in keys[chunk..<min(chunk + 100, keys.count)] {
                        _ = try await store.put(key: key, source: .string(key))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.list(prefix: "many/").count == 1_005)
        try await store.delete(keys: keys)
        #expect(try await store.list(prefix: "many/").isEmpty)
    }

    @Test func multipartHundredMiBRoundTrip() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = try scratch.largeFile("big.db", size: 100 << 20, seed: 7)
        let uploaded = Mutex<Set<Int>>([])
        let store = try await Self.makeStore(bucket: Self.uniqueBucket()) {
            $0.multipartThreshold = 5 << 20
            $0.partSize = 5 << 20
            $0.partConcurrency = 4
            $0.testHooks.onPartUploaded = { n in uploaded.withLock { _ = $0.insert(n) } }
        }
        let expected = try LocalFileRange.sha256(path: path)
        let info = try await store.put(key: "ks/t/big-Data.db", source: .file(path))
        #expect(info.size == 100 << 20)
        #expect(info.sha256 == expected)
        #expect(uploaded.withLock { $0 } == Set(1...20))

        let head = try await store.head(key: "ks/t/big-Data.db")
        #expect(head.size == 100 << 20 && head.sha256 == expected)
        let restored = scratch.path + "/restored.db"
        let got = try await store.get(key: "ks/t/big-Data.db", to: restored)
        #expect(got.sha256 == expected)
        #expect(try LocalFileRange.sha256(path: restored) == expected)
        #expect(try await store.incompleteUploads().isEmpty)
    }

    @Test func multipartResumesAfterACrash() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = try scratch.largeFile("resume.db", size: 31 << 20, seed: 11)  // 7 parts of 5 MiB
        let sessions = try DirectoryUploadSessionStore(directory: scratch.path + "/sessions")
        let bucket = Self.uniqueBucket()
        func configure(_ hooks: S3ObjectStore.TestHooks) -> (inout S3ObjectStore.Configuration) -> Void {
            { configuration in
                configuration.multipartThreshold = 5 << 20
                configuration.partSize = 5 << 20
                configuration.partConcurrency = 1
                configuration.sessionStore = sessions
                configuration.testHooks = hooks
            }
        }

        let firstRun = Mutex<[Int]>([])
        let crashing = try await Self.makeStore(
            bucket: bucket,
            configure: configure(
                .init(failAfterParts: 3, onPartUploaded: { n in firstRun.withLock { $0.append(n) } })))
        await #expect(throws: S3ObjectStore.SimulatedCrash.self) {
            try await crashing.put(key: "ks/t/resume-Data.db", source: .file(path))
        }
        #expect(firstRun.withLock { $0 } == [1, 2, 3])
        #expect(try await crashing.headIfExists(key: "ks/t/resume-Data.db") == nil)
        #expect(try await crashing.incompleteUploads().map(\.key) == ["ks/t/resume-Data.db"])

        // A new process: same session store, no crash hook.
        let secondRun = Mutex<[Int]>([])
        let resumed = try await Self.makeStore(
            bucket: bucket, create: false,
            configure: configure(.init(onPartUploaded: { n in secondRun.withLock { $0.append(n) } })))
        let info = try await resumed.put(key: "ks/t/resume-Data.db", source: .file(path))
        #expect(secondRun.withLock { $0 }.sorted() == [4, 5, 6, 7])
        let expected = try LocalFileRange.sha256(path: path)
        #expect(info.sha256 == expected && info.size == 31 << 20)
        let restored = scratch.path + "/restored.db"
        _ = try await resumed.get(key: "ks/t/resume-Data.db", to: restored)
        #expect(try LocalFileRange.sha256(path: restored) == expected)
        #expect(try await resumed.incompleteUploads().isEmpty)
        #expect(try sessions.session(key: "s3://\(bucket)/ks/t/resume-Data.db", fingerprint: "") == nil)
    }

    @Test func changedFileDoesNotResumeOldUpload() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = try scratch.largeFile("changing.db", size: 11 << 20, seed: 3)
        let sessions = InMemoryUploadSessionStore()
        let bucket = Self.uniqueBucket()
        let crashing = try await Self.makeStore(bucket: bucket) {
            $0.multipartThreshold = 5 << 20
            $0.partSize = 5 << 20
            $0.partConcurrency = 1
            $0.sessionStore = sessions
            $0.testHooks.failAfterParts = 1
        }
        await #expect(throws: S3ObjectStore.SimulatedCrash.self) {
            try await crashing.put(key: "k", source: .file(path))
        }
        _ = try scratch.largeFile("changing.db", size: 11 << 20, seed: 4)  // same size, other bytes
        let count = Atomic<Int>(0)
        let fresh = try await Self.makeStore(bucket: bucket, create: false) {
            $0.multipartThreshold = 5 << 20
            $0.partSize = 5 << 20
            $0.sessionStore = sessions
            $0.testHooks.onPartUploaded = { _ in count.add(1, ordering: .relaxed) }
        }
        let info = try await fresh.put(key: "k", source: .file(path))
        #expect(count.load(ordering: .relaxed) == 3)
        #expect(info.sha256 == (try LocalFileRange.sha256(path: path)))
        _ = try await fresh.get(key: "k", to: scratch.path + "/back")
        #expect(try LocalFileRange.sha256(path: scratch.path + "/back") == info.sha256)
    }

    @Test func missingBucketIsNamed() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let bucket = Self.uniqueBucket()
        let store = try await Self.makeStore(bucket: bucket, create: false)
        func check(_ what: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("\(what) succeeded on a missing bucket")
            } catch let error as ObjectStoreError {
                guard case .noSuchBucket(_, let named) = error else {
                    Issue.record("\(what): \(error)")
                    return
                }
                #expect(named == bucket)
                #expect(error.description.contains(bucket))
            } catch {
                Issue.record("\(what): \(error)")
            }
        }
        await check("put") { _ = try await store.put(key: "a", source: .string("a")) }
        await check("head") { _ = try await store.head(key: "a") }
        await check("get") { _ = try await store.get(key: "a", to: scratch.path + "/a") }
        await check("list") { _ = try await store.list(prefix: "") }
        await check("delete") { try await store.delete(key: "a") }
    }

    @Test func encryptionAndStorageClassAreSent() async throws {
        let store = try await Self.makeStore(bucket: Self.uniqueBucket()) {
            $0.serverSideEncryption = .s3
            $0.storageClass = "STANDARD_IA"
        }
        _ = try await store.put(key: "enc", source: .string("secret sstable"))
        let response = try await store.send(S3Request(method: "HEAD", key: "enc"))
        #expect(response.status == 200)
        #expect(response.header("x-amz-server-side-encryption") == "AES256")
        #expect(response.header("x-amz-storage-class") == "STANDARD_IA")
    }

    @Test func checksumsAreVerified() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let store = try await Self.makeStore(bucket: Self.uniqueBucket())
        // A caller's SHA-256 that does not match the bytes: nothing is stored.
        await #expect(throws: ObjectStoreError.self) {
            try await store.put(
                key: "k", source: .string("abc"),
                options: PutOptions(sha256: String(repeating: "0", count: 64)))
        }
        #expect(try await store.headIfExists(key: "k") == nil)

        // An object whose metadata disagrees with its bytes: get refuses and leaves no file.
        let body = Array("corrupted".utf8)
        let put = try await store.send(
            S3Request(
                method: "PUT", key: "bad",
                headers: [(S3ObjectStore.sha256MetadataHeader, String(repeating: "a", count: 64))],
                body: .bytes(body), payloadHash: Digest.sha256(body).hexString))
        #expect(put.status == 200)
        do {
            _ = try await store.get(key: "bad", to: scratch.path + "/bad")
            Issue.record("get of a corrupt object succeeded")
        } catch let error as ObjectStoreError {
            guard case .checksumMismatch = error else {
                Issue.record("\(error)")
                return
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func connectionRefusedIsTransient() async throws {
        let server = try StubHTTPServer { _ in .init(status: 200, body: "") }
        let url = server.url
        server.stop()
        let store = try S3ObjectStore(
            configuration: .init(
                bucket: "b", endpoint: url,
                credentials: StaticCredentialsProvider(accessKeyId: "a", secretAccessKey: "s")))
        do {
            _ = try await store.head(key: "k")
            Issue.record("head against a closed port succeeded")
        } catch let error as ObjectStoreError {
            #expect(error.isRetryable, "\(error)")
        }
    }

    // MARK: - Helpers

    static func contents(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw POSIXError(.ENOENT) }
        return [UInt8](data)
    }

    static func pseudoRandom(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            out[i] = UInt8(truncatingIfNeeded: state)
        }
        return out
    }
}

/// A temporary directory for one test.
struct Scratch {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "cassnap-s3-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String, bytes: [UInt8]) throws -> String {
        let full = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        return full
    }

    /// Writes `size` pseudo-random bytes 1 MiB at a time (memory stays flat).
    func largeFile(_ name: String, size: Int, seed: UInt64) throws -> String {
        let full = path + "/" + name
        _ = FileManager.default.createFile(atPath: full, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: full))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        var block = S3ObjectStoreMotoTests.pseudoRandom(1 << 20, seed: seed)
        var written = 0
        var round: UInt8 = 0
        while written < size {
            let n = min(block.count, size - written)
            block[0] = round  // every MiB differs, so misplaced parts are caught
            block[1] = UInt8(truncatingIfNeeded: written >> 20)
            try handle.write(contentsOf: block[0..<n])
            written += n
            round &+= 1
        }
        return full
    }
}
