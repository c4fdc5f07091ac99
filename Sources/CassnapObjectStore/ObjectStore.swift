import CassnapCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where cassnap keeps every byte it protects: S3, GCS, an S3-compatible server or a directory.
///
/// The contract every implementation keeps (and `ObjectStoreConformance` checks):
/// - **Keys** are `/`-separated, relative to the store's root (its bucket and prefix), never
///   empty, never starting with `/`, and never containing `.` or `..` segments or NUL.
/// - **put** is atomic: a reader sees the old object, no object, or the complete new one, never a
///   prefix. The store records the object's size and SHA-256 (hex) as metadata, and checks the
///   bytes in transit (Content-MD5, CRC32C or a local re-hash): a mismatch throws
///   `ObjectStoreError.checksumMismatch` and the object is not reported as stored. Putting the
///   same bytes twice is harmless. Bodies stream from the file; memory does not grow with size.
/// - **head** and **get** throw `ObjectStoreError.notFound` for a missing key. `get` streams to
///   a local file, replacing it only once the whole object has arrived and matches its checksum.
/// - **list** is complete (every page is fetched) and sorted by key; it returns every object
///   whose key starts with the prefix (plain string prefix, not a directory).
/// - **delete** of a missing key succeeds (deletes are idempotent); `delete(keys:)` batches
///   where the backend can.
/// - A **directory store** (`file://`) never follows a symlink below its root, whatever the
///   operation: a key whose path meets one is refused with the permanent
///   `ObjectStoreError.symlinkBelowRoot`, and listings skip symlinks. It creates objects 0640
///   and directories 0750, independent of the umask.
/// - Errors say how to react: `isNotFound`, `isRetryable`, `isPermanent`.
package protocol ObjectStore: Sendable {
    /// A URL-like name for logs and errors, e.g. `s3://bucket/prefix`. Never holds secrets.
    var displayName: String { get }

    func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo
    func head(key: String) async throws -> ObjectInfo
    func get(key: String, to localPath: String) async throws -> ObjectInfo
    /// Streams the object's bytes (all, or `target.range`) into `target.fd` with `pwrite`,
    /// the first byte at `target.offset`, so a retry rewrites the same bytes and parallel
    /// ranges can share one descriptor. Nothing is renamed or fsynced: the caller owns the
    /// file. With `target.hash` the SHA-256 of the bytes is computed as they arrive, and the
    /// caller compares it with what it expects (the manifest): `read` checks only the length.
    /// One request per call where the backend allows (no metadata round trip).
    func read(key: String, into target: ReadTarget) async throws -> ObjectRead
    func list(prefix: String) async throws -> [ObjectInfo]
    /// `list` page by page, so that a caller need not hold a big listing: `page` gets each
    /// page as it arrives (in key order within a page). After a retried failure pages may
    /// arrive again, so `page` must be idempotent.
    func listPages(prefix: String, _ page: ([ObjectInfo]) async throws -> Void) async throws
    func delete(key: String) async throws
    func delete(keys: [String]) async throws
}

extension ObjectStore {
    /// One page: the whole listing (stores that list from memory or a directory walk).
    package func listPages(prefix: String, _ page: ([ObjectInfo]) async throws -> Void) async throws {
        try await page(list(prefix: prefix))
    }

    package func put(key: String, source: ObjectSource) async throws -> ObjectInfo {
        try await put(key: key, source: source, options: PutOptions())
    }

    /// The default batch delete for backends without one: one call per key.
    package func deleteEach(_ keys: [String]) async throws {
        for key in keys { try await delete(key: key) }
    }

    /// `head` that answers nil instead of throwing for a missing object.
    package func headIfExists(key: String) async throws -> ObjectInfo? {
        do { return try await head(key: key) } catch let e as ObjectStoreError where e.isNotFound {
            return nil
        }
    }
}

/// Where `ObjectStore.read` writes: an open descriptor (a file, or `/dev/null` to only hash).
package struct ReadTarget: Sendable {
    package var fd: Int32
    /// File offset of the first byte read.
    package var offset: Int64
    /// Object bytes to read (`lowerBound..<upperBound`); nil for the whole object.
    package var range: Range<Int64>?
    /// Compute the SHA-256 of the bytes while they stream.
    package var hash: Bool

    package init(fd: Int32, offset: Int64 = 0, range: Range<Int64>? = nil, hash: Bool = true) {
        self.fd = fd
        self.offset = offset
        self.range = range
        self.hash = hash
    }
}

/// What one `read` delivered.
package struct ObjectRead: Sendable, Equatable {
    /// Bytes written to the descriptor.
    package var bytes: Int64
    /// SHA-256 (lower-case hex) of those bytes, when asked for.
    package var sha256: String?

    package init(bytes: Int64, sha256: String?) {
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// Writes streamed bytes at their place in a `ReadTarget` and hashes them on the way: the one
/// implementation every store's `read` uses (curl's write callback calls `write` per chunk, on
/// the transfer's thread; one transfer at a time uses a sink).
package final class ReadSink: @unchecked Sendable {
    private let fd: Int32
    private let start: Int64
    private var position: Int64
    private let hasher: Hasher?
    /// errno of the write that failed, if one did.
    private var writeError: Int32 = 0

    package init(_ target: ReadTarget) {
        fd = target.fd
        position = target.offset
        start = target.offset
        hasher = target.hash ? Hasher(.sha256) : nil
    }

    package var written: Int64 { position - start }

    /// Writes `bytes` at the next position; false when the disk refused (`finish` says why).
    package func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return true }
        hasher?.update(bytes)
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(position))
            if n < 0 {
                if errno == EINTR { continue }
                writeError = errno
                return false
            }
            done += n
            position += Int64(n)
        }
        return true
    }

    /// The bytes written and their SHA-256; throws when a write failed.
    package func finish(path: String) throws -> ObjectRead {
        if writeError != 0 {
            throw ObjectStoreError.localFile(
                path: path, reason: "write failed: \(String(cString: strerror(writeError)))")
        }
        return ObjectRead(bytes: written, sha256: hasher?.finalize().hexString)
    }
}

/// What an object holds, as the store reports it.
package struct ObjectInfo: Sendable, Equatable, Hashable {
    package var key: String
    package var size: Int64
    /// SHA-256 of the content, lower-case hex, from the object's metadata; nil where a listing
    /// does not carry metadata (S3 ListObjectsV2) or for objects cassnap did not write.
    package var sha256: String?
    package var lastModified: Date?

    package init(key: String, size: Int64, sha256: String? = nil, lastModified: Date? = nil) {
        self.key = key
        self.size = size
        self.sha256 = sha256
        self.lastModified = lastModified
    }
}

/// The bytes to upload: a range of a local file (read in place, never copied whole into
/// memory) or a small in-memory buffer (manifests).
package struct ObjectSource: Sendable {
    package enum Content: Sendable {
        case file(path: String, offset: Int64, length: Int64?)
        case bytes([UInt8])
    }

    package var content: Content
    /// Called with each chunk's size before it is sent; the bandwidth limiter blocks here.
    /// Runs on a transfer thread, so it may sleep.
    package var throttle: (@Sendable (Int) -> Void)?

    package static func file(_ path: String, offset: Int64 = 0, length: Int64? = nil) -> ObjectSource {
        ObjectSource(content: .file(path: path, offset: offset, length: length), throttle: nil)
    }

    package static func bytes(_ bytes: [UInt8]) -> ObjectSource {
        ObjectSource(content: .bytes(bytes), throttle: nil)
    }

    package static func string(_ text: String) -> ObjectSource { .bytes(Array(text.utf8)) }
}

package struct PutOptions: Sendable {
    /// SHA-256 the caller already computed (the agent hashes while it reads); the store
    /// computes it itself when nil.
    package var sha256: String?
    package var contentType: String = "application/octet-stream"

    package init(sha256: String? = nil, contentType: String = "application/octet-stream") {
        self.sha256 = sha256
        self.contentType = contentType
    }
}

/// Errors from any store, classified so callers know how to react.
package enum ObjectStoreError: Error, CustomStringConvertible, Sendable {
    case notFound(store: String, key: String)
    case noSuchBucket(store: String, bucket: String)
    /// Wrong or missing credentials, or a policy that forbids the call. Never retried.
    case accessDenied(store: String, bucket: String, detail: String)
    case checksumMismatch(store: String, key: String, expected: String, actual: String)
    case invalidKey(key: String, reason: String)
    case invalidURL(url: String, reason: String)
    case localFile(path: String, reason: String)
    /// A file store met a symlink at `path` on the way to `key`. Refused, because following it
    /// could read, write or delete outside the store's root; never retried.
    case symlinkBelowRoot(store: String, key: String, path: String)
    /// A 5xx, 429, timeout or reset: worth another try.
    case transient(store: String, detail: String)
    /// Anything else the server refused; retrying will not help.
    case permanent(store: String, detail: String)

    package var isNotFound: Bool {
        if case .notFound = self { return true }
        return false
    }

    package var isRetryable: Bool {
        switch self {
        case .transient, .checksumMismatch: true
        default: false
        }
    }

    package var isPermanent: Bool { !isRetryable && !isNotFound }

    package var description: String {
        switch self {
        case .notFound(let store, let key): "\(store): object \(key) not found"
        case .noSuchBucket(let store, let bucket): "\(store): bucket \(bucket) does not exist"
        case .accessDenied(let store, let bucket, let detail):
            "\(store): access to bucket \(bucket) denied: \(detail) (check the credentials and the bucket policy)"
        case .checksumMismatch(let store, let key, let expected, let actual):
            "\(store): checksum mismatch for \(key): expected \(expected), got \(actual)"
        case .invalidKey(let key, let reason): "invalid object key \(key.debugDescription): \(reason)"
        case .invalidURL(let url, let reason): "invalid store URL \(url.debugDescription): \(reason)"
        case .localFile(let path, let reason): "local file \(path): \(reason)"
        case .symlinkBelowRoot(let store, let key, let path):
            "\(store): refusing \(key): \(path) is a symbolic link, and the store never follows links below its root"
        case .transient(let store, let detail): "\(store): temporary failure: \(detail)"
        case .permanent(let store, let detail): "\(store): \(detail)"
        }
    }
}

/// Validates a key against the contract above; every store calls it before touching a backend.
package func validateObjectKey(_ key: String) throws {
    func fail(_ reason: String) -> ObjectStoreError { .invalidKey(key: key, reason: reason) }
    if key.isEmpty { throw fail("empty") }
    if key.utf8.count > 1024 { throw fail("longer than 1024 bytes") }
    if key.hasPrefix("/") { throw fail("starts with /") }
    if key.utf8.contains(0) { throw fail("contains NUL") }
    for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
        if segment.isEmpty { throw fail("has an empty path segment") }
        if segment == "." || segment == ".." { throw fail("has a '\(segment)' segment") }
    }
}
