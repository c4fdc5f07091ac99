import CassnapCrypto
import CassnapObjectStore
import CassnapTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One contract, every store (restic/rclone style): in-memory, filesystem, S3 on moto, S3 on
/// `rclone serve s3` (which checks signatures), and GCS on fake-gcs-server.
@Suite("ObjectStore conformance") struct ObjectStoreConformanceTests {
    @Test(arguments: StoreKind.available)
    func smallObjectRoundTripsByteExact(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let put = try await f.store.put(key: "ks/t-1/nb-1-big-Data.db", source: .bytes(bytes))
        #expect(put.size == 5000)
        #expect(put.sha256 == Digest.sha256(bytes).hexString)

        let head = try await f.store.head(key: "ks/t-1/nb-1-big-Data.db")
        #expect(head.size == 5000)
        #expect(head.sha256 == Digest.sha256(bytes).hexString)

        let target = f.scratch + "/out"
        let got = try await f.store.get(key: "ks/t-1/nb-1-big-Data.db", to: target)
        #expect(got.size == 5000)
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == Data(bytes))
    }

    /// `read` (restore and deep verify): whole objects hashed as they stream, ranges written at
    /// their offsets in one shared file, a missing key, and an error document that never lands
    /// in the caller's file.
    @Test(arguments: StoreKind.available)
    func readStreamsWholeObjectsAndRangesIntoPlace(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        let path = try f.makeFile("src", size: 3 * 1_048_576 + 17, seed: 5)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = try await f.store.put(key: "ks/t/nb-1-big-Data.db", source: .file(path))

        let out = f.scratch + "/read"
        let fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        defer { close(fd) }
        let all = try await f.store.read(key: "ks/t/nb-1-big-Data.db", into: ReadTarget(fd: fd))
        #expect(all == ObjectRead(bytes: Int64(whole.count), sha256: Digest.sha256(whole).hexString))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == whole)

        // Ranges out of order into a fresh file: the pieces add up to the object.
        ftruncate(fd, 0)
        let size = Int64(whole.count)
        let cuts: [Range<Int64>] = [2_000_000..<size, 0..<1, 1..<1_048_576, 1_048_576..<2_000_000]
        for range in cuts {
            let part = try await f.store.read(
                key: "ks/t/nb-1-big-Data.db",
                into: ReadTarget(fd: fd, offset: range.lowerBound, range: range, hash: false))
            #expect(part == ObjectRead(bytes: Int64(range.count), sha256: nil), "\(range)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == whole)

        // Only hashing: /dev/null takes the bytes.
        let null = open("/dev/null", O_WRONLY)
        defer { close(null) }
        let hashed = try await f.store.read(key: "ks/t/nb-1-big-Data.db", into: ReadTarget(fd: null))
        #expect(hashed.sha256 == Digest.sha256(whole).hexString)

        ftruncate(fd, 0)
        await #expect {
            try await f.store.read(key: "ks/t/missing-Data.db", into: ReadTarget(fd: fd))
        } throws: { ($0 as? ObjectStoreError)?.isNotFound == true }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)).isEmpty, "no error document in the file")
    }

    @Test(arguments: StoreKind.available)
    func emptyObjectRoundTrips(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        let put = try await f.store.put(key: "empty", source: .bytes([]))
        #expect(put.size == 0)
        let got = try await f.store.get(key: "empty", to: f.scratch + "/out")
        #expect(got.size == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.scratch + "/out")).isEmpty)
    }

    @Test(arguments: StoreKind.available)
    func fileRangeUploadsOnlyThatRange(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        let path = try f.makeFile("src", size: 3 * 1_048_576 + 17, seed: 9)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let info = try await f.store.put(key: "range", source: .file(path, offset: 1000, length: 2_000_000))
        #expect(info.size == 2_000_000)
        _ = try await f.store.get(key: "range", to: f.scratch + "/out")
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.scratch + "/out")) == whole[1000..<2_001_000])
    }

    /// 100 MiB: multipart (S3) and resumable chunks (GCS) with small parts.
    @Test(arguments: StoreKind.available)
    func largeObjectRoundTripsByteExact(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        let size = 100 * 1_048_576
        let path = try f.makeFile("big", size: size, seed: 3)
        let sha = try f.sha256(ofFile: path)
        let info = try await f.store.put(key: "big/nb-7-big-Data.db", source: .file(path))
        #expect(info.size == Int64(size))
        #expect(info.sha256 == sha)
        let head = try await f.store.head(key: "big/nb-7-big-Data.db")
        #expect(head.size == Int64(size))
        #expect(head.sha256 == sha)
        _ = try await f.store.get(key: "big/nb-7-big-Data.db", to: f.scratch + "/out")
        #expect(try f.sha256(ofFile: f.scratch + "/out") == sha)
    }

    @Test(arguments: StoreKind.available)
    func listingIsCompleteSortedAndPrefixed(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        let keys = ["p/a/x", "p/a1", "p/b/c/d", "p/c", "p/d", "p/e", "p/f/g", "q/other", "pz"]
        for (i, key) in keys.enumerated() {
            _ = try await f.store.put(key: key, source: .bytes([UInt8](repeating: UInt8(i), count: i + 1)))
        }
        let listed = try await f.store.list(prefix: "p/")
        #expect(listed.map(\.key) == ["p/a/x", "p/a1", "p/b/c/d", "p/c", "p/d", "p/e", "p/f/g"])
        #expect(listed.map(\.size) == [1, 2, 3, 4, 5, 6, 7])
        #expect(try await f.store.list(prefix: "p/a").map(\.key) == ["p/a/x", "p/a1"])
        #expect(try await f.store.list(prefix: "").count == keys.count)
        #expect(try await f.store.list(prefix: "nothing/").isEmpty)
    }

    @Test(arguments: StoreKind.available)
    func listingPageByPageGivesTheSameObjects(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)  // cloud stores list 2 keys per page here
        defer { f.cleanUp() }
        let keys = (0..<7).map { "paged/k\($0)" } + ["other/k"]
        for key in keys { _ = try await f.store.put(key: key, source: .string(key)) }
        var pages: [[ObjectInfo]] = []
        try await f.store.listPages(prefix: "paged/") { pages.append($0) }
        #expect(pages.flatMap { $0 }.map(\.key) == (0..<7).map { "paged/k\($0)" })
        #expect(pages.flatMap { $0 }.map(\.size) == (0..<7).map { _ in 8 })
        if [.s3Moto, .s3Rclone, .gcs].contains(kind) { #expect(pages.count >= 4, "\(pages.map(\.count))") }
    }

    @Test(arguments: StoreKind.available)
    func batchDeleteRemovesExactlyTheKeysAndIsIdempotent(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        for i in 0..<12 { _ = try await f.store.put(key: "d/\(i)", source: .string("object \(i)")) }
        try await f.store.delete(keys: (0..<10).map { "d/\($0)" } + ["d/never-existed"])
        #expect(try await f.store.list(prefix: "d/").map(\.key) == ["d/10", "d/11"])
        try await f.store.delete(key: "d/10")
        try await f.store.delete(key: "d/10")
        #expect(try await f.store.list(prefix: "d/").map(\.key) == ["d/11"])
    }

    @Test(arguments: StoreKind.available)
    func missingObjectsAreNotFound(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        await #expect { try await f.store.head(key: "missing/key") } throws: {
            ($0 as? ObjectStoreError)?.isNotFound == true
        }
        let target = f.scratch + "/never"
        await #expect { try await f.store.get(key: "missing/key", to: target) } throws: {
            ($0 as? ObjectStoreError)?.isNotFound == true
        }
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(try await f.store.headIfExists(key: "missing/key") == nil)
    }

    @Test(arguments: StoreKind.available)
    func keysThatWouldEscapeAreRejectedBeforeTheBackend(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        for key in ["", "/abs", "a/../b", "a//b", "./a", "a/.", "nul\u{0}x"] {
            await #expect(throws: ObjectStoreError.self, "key \(key.debugDescription)") {
                try await f.store.put(key: key, source: .string("x"))
            }
        }
        #expect(try await f.store.list(prefix: "").isEmpty)
    }

    @Test(arguments: StoreKind.available)
    func aWrongExpectedChecksumStoresNothing(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        let path = try f.makeFile("src", size: 70_000)
        await #expect {
            try await f.store.put(
                key: "bad", source: .file(path),
                options: PutOptions(sha256: String(repeating: "0", count: 64)))
        } throws: {
            if case .checksumMismatch = $0 as? ObjectStoreError { return true }
            return false
        }
        #expect(try await f.store.headIfExists(key: "bad") == nil)
    }

    @Test(arguments: StoreKind.available)
    func aVanishedSourceFileIsAClearLocalError(kind: StoreKind) async throws {
        let f = try await StoreFixture.make(kind)
        defer { f.cleanUp() }
        await #expect {
            try await f.store.put(key: "gone", source: .file(f.scratch + "/compacted-away-Data.db"))
        } throws: {
            "\($0)".contains("compacted-away-Data.db")
        }
    }
}

/// Visible markers for the cloud suites: skipped (with the reason) without servers locally,
/// and failing under CI=true when a server is missing, so CI can never skip S3 or GCS.
@Suite struct ServersPresentTests {
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func s3ConformanceRuns() throws { _ = try TestServers.requireS3() }

    @Test(
        .enabled(
            if: TestServers.rcloneS3 != nil || TestServers.isCI, "needs rclone serve s3: run `make test`"))
    func rcloneConformanceRuns() throws { _ = try TestServers.requireRcloneS3() }

    @Test(.enabled(if: TestServers.gcsEnabled, "needs fake-gcs-server: run `make test`"))
    func gcsConformanceRuns() throws { _ = try TestServers.requireGCS() }
}
