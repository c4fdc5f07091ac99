import CassnapCore
import CassnapCrypto
import CassnapHTTP
import CassnapObjectStore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An `ObjectStore` on Amazon S3 or an S3-compatible server (MinIO, Ceph RGW, rclone, moto).
///
/// - Small objects go up in one PUT with `Content-MD5` and a signed SHA-256 payload hash, so the
///   server checks the bytes twice. Objects from `multipartThreshold` on go up in parts, several
///   at once, each with `Content-MD5` and `UNSIGNED-PAYLOAD` (see `S3ObjectStore+Multipart`).
/// - The object's SHA-256 is stored as `x-amz-meta-cassnap-sha256`; `get` verifies it.
/// - The store never loops retrying a request: failures come back classified (`transient`,
///   `permanent`, ...) for the retrying wrapper. Only multipart parts are retried in place.
package struct S3ObjectStore: ObjectStore {
    package static let sha256MetadataHeader = "x-amz-meta-cassnap-sha256"

    package let configuration: Configuration
    let http: CurlHTTPClient
    let signer: SigV4Signer
    let endpoint: Endpoint
    /// `configuration.rootPrefix`, worked out once: every request names a key below it.
    let rootPrefix: String
    /// Set once the bucket answered, so a 404 on HEAD needs no extra call to tell a missing key
    /// from a missing bucket.
    let bucketConfirmed = Flag()

    package var displayName: String {
        "s3://\(configuration.bucket)"
            + (rootPrefix.isEmpty ? "" : "/" + rootPrefix.dropLast())
    }

    package init(configuration: Configuration) throws {
        self.configuration = configuration
        http = CurlHTTPClient(configuration: configuration.http)
        signer = SigV4Signer(region: configuration.region, service: "s3")
        endpoint = try Endpoint(configuration: configuration)
        rootPrefix = configuration.rootPrefix
        if !rootPrefix.isEmpty {
            do {
                try validateObjectKey(String(rootPrefix.dropLast()))
            } catch {
                throw ObjectStoreError.invalidURL(url: displayName, reason: "bad prefix: \(error)")
            }
        }
    }

    // MARK: - ObjectStore

    package func head(key: String) async throws -> ObjectInfo {
        let response = try await send(bodiless: "HEAD", key: key, operation: "head")
        if response.status == 200 {
            bucketConfirmed.set()
            return info(key: key, response: response)
        }
        if response.status == 404 {
            // A HEAD answer has no body, so ask the bucket itself once.
            if !bucketConfirmed.isSet { try await confirmBucket() }
            throw ObjectStoreError.notFound(store: displayName, key: key)
        }
        throw error(for: response, key: key, operation: "head")
    }

    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try validateObjectKey(key)
        do {
            return try await download(key: key, to: localPath)
        } catch {
            throw self.error(for: error, key: key, operation: "get")
        }
    }

    package func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try validateObjectKey(key)
        let sink = ReadSink(target)
        var headers: [(name: String, value: String)] = []
        if let range = target.range {
            guard !range.isEmpty else { return try sink.finish(path: key) }
            headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let response: HTTPResponse
        do {
            response = try await send(
                S3Request(method: "GET", key: objectKey(key), headers: headers, sink: .stream(sink.write)))
        } catch {
            _ = try sink.finish(path: key)  // a local write failure is the real cause
            throw self.error(for: error, key: key, operation: "get")
        }
        guard response.status == 200 || response.status == 206 else {
            throw error(for: response, key: key, operation: "get")
        }
        bucketConfirmed.set()
        let read = try sink.finish(path: key)
        let expected = response.header("content-length").flatMap(Int64.init)
        if let expected, expected != read.bytes {
            throw ObjectStoreError.transient(
                store: displayName, detail: "get \(key): received \(read.bytes) of \(expected) bytes")
        }
        if let range = target.range, read.bytes != Int64(range.count) {
            throw ObjectStoreError.transient(
                store: displayName,
                detail:
                    "get \(key): asked for \(range.count) bytes from \(range.lowerBound), got \(read.bytes)")
        }
        return read
    }

    package func list(prefix: String) async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        try await listPages(prefix: prefix) { result += $0 }
        return result.sorted { $0.key < $1.key }
    }

    package func listPages(prefix: String, _ pageHandler: ([ObjectInfo]) async throws -> Void) async throws {
        let root = rootPrefix
        var token: String? = nil
        repeat {
            var query: [(name: String, value: String)] = [
                ("list-type", "2"), ("prefix", root + prefix),
                ("max-keys", String(max(1, min(configuration.maxKeys, 1000)))),
                ("encoding-type", "url"),
            ]
            if let token { query.append(("continuation-token", token)) }
            let response: HTTPResponse
            do {
                response = try await send(S3Request(method: "GET", key: nil, query: query))
            } catch {
                throw self.error(for: error, key: nil, operation: "list \(prefix.debugDescription)")
            }
            guard response.status == 200 else {
                throw error(for: response, key: nil, operation: "list \(prefix.debugDescription)")
            }
            bucketConfirmed.set()
            guard let page = XMLElementNode.parse(response.body), page.name == "ListBucketResult" else {
                throw ObjectStoreError.transient(
                    store: displayName, detail: "list: unreadable ListObjectsV2 answer")
            }
            let urlEncoded = page["EncodingType"] == "url"
            var result: [ObjectInfo] = []
            for entry in page.children("Contents") {
                guard var fullKey = entry["Key"] else { continue }
                if urlEncoded { fullKey = fullKey.removingPercentEncoding ?? fullKey }
                guard fullKey.hasPrefix(root) else { continue }
                let size = Int64(entry["Size"] ?? "") ?? 0
                result.append(
                    ObjectInfo(
                        key: String(fullKey.dropFirst(root.count)), size: size, sha256: nil,
                        lastModified: entry["LastModified"].flatMap(parseISO8601)))
            }
            let truncated = page["IsTruncated"] == "true"
            token = truncated ? page["NextContinuationToken"] : nil
            if truncated && (token ?? "").isEmpty {
                throw ObjectStoreError.transient(
                    store: displayName, detail: "list: truncated page without a continuation token")
            }
            try await pageHandler(result.sorted { $0.key < $1.key })
        } while token != nil
    }

    /// Creates the bucket (tests, demos and `cassnap` setup); an existing bucket we own is fine.
    package func createBucket() async throws {
        var body: HTTPRequest.Body = .none
        var payloadHash = SigV4Signer.emptyPayloadHash
        if configuration.endpoint == nil && configuration.region != "us-east-1" {
            let xml = Array(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>"
                    .utf8)
            body = .bytes(xml)
            payloadHash = Digest.sha256(xml).hexString
        }
        let response: HTTPResponse
        do {
            response = try await send(
                S3Request(method: "PUT", key: nil, body: body, payloadHash: payloadHash))
        } catch {
            throw self.error(for: error, key: nil, operation: "create bucket")
        }
        if response.status == 200 || S3ErrorDocument(response.body)?.code == "BucketAlreadyOwnedByYou" {
            bucketConfirmed.set()
            return
        }
        throw error(for: response, key: nil, operation: "create bucket")
    }

    // MARK: - Pieces

    private func download(key: String, to localPath: String) async throws -> ObjectInfo {
        let directory = (localPath as NSString).deletingLastPathComponent
        let name = (localPath as NSString).lastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ObjectStoreError.localFile(path: directory, reason: "cannot create directory: \(error)")
            }
        }
        let tmpPath =
            (directory.isEmpty ? "" : directory + "/")
            + ".\(name).cassnap-\(UInt32.random(in: .min ... .max)).part"
        let fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ObjectStoreError.localFile(
                path: tmpPath, reason: "cannot create: \(String(cString: strerror(errno)))")
        }
        var keep = false
        defer {
            close(fd)
            if !keep { unlink(tmpPath) }
        }
        let response = try await send(S3Request(method: "GET", key: objectKey(key), sink: .file(fd: fd)))
        guard response.status == 200 else {
            // The error document went into the temporary file.
            let body =
                (FileManager.default.contents(atPath: tmpPath).map { [UInt8]($0.prefix(64 << 10)) }) ?? []
            var failed = response
            failed.body = body
            throw error(for: failed, key: key, operation: "get")
        }
        bucketConfirmed.set()
        var info = info(key: key, response: response)
        if let expected = response.header("content-length").flatMap(Int64.init),
            expected != response.bytesWritten
        {
            throw ObjectStoreError.transient(
                store: displayName,
                detail: "get \(key): received \(response.bytesWritten) of \(expected) bytes")
        }
        info.size = response.bytesWritten
        if fsync(fd) != 0 {
            throw ObjectStoreError.localFile(
                path: tmpPath, reason: "fsync failed: \(String(cString: strerror(errno)))")
        }
        // The file was just written, so this second read comes from the page cache.
        if let expected = info.sha256 {
            let actual = try await BlockingThreads.shared.run { try LocalFileRange.sha256(path: tmpPath) }
            if actual != expected.lowercased() {
                throw ObjectStoreError.checksumMismatch(
                    store: displayName, key: key, expected: "SHA-256 \(expected)", actual: "SHA-256 \(actual)"
                )
            }
        }
        guard rename(tmpPath, localPath) == 0 else {
            throw ObjectStoreError.localFile(
                path: localPath,
                reason: "cannot move download into place: \(String(cString: strerror(errno)))")
        }
        keep = true
        return info
    }

    /// HEAD on the bucket, to tell "no such key" from "no such bucket" after a bodiless 404.
    private func confirmBucket() async throws {
        let response: HTTPResponse
        do {
            response = try await send(S3Request(method: "HEAD", key: nil))
        } catch {
            throw self.error(for: error, key: nil, operation: "head bucket")
        }
        switch response.status {
        case 200: bucketConfirmed.set()
        case 404: throw ObjectStoreError.noSuchBucket(store: displayName, bucket: configuration.bucket)
        default: break  // 403 on HEAD bucket is common with key-only policies; the key is simply missing
        }
    }

    func info(key: String, response: HTTPResponse) -> ObjectInfo {
        ObjectInfo(
            key: key, size: response.header("content-length").flatMap(Int64.init) ?? 0,
            sha256: response.header(Self.sha256MetadataHeader).flatMap { $0.isEmpty ? nil : $0.lowercased() },
            lastModified: Self.httpDate(response.header("last-modified")))
    }

    func objectKey(_ key: String) -> String { rootPrefix + key }

    /// A request without a body on one object (HEAD, DELETE): the key is checked first, and a
    /// transport failure comes back classified for `operation`.
    func send(bodiless method: String, key: String, operation: String) async throws -> HTTPResponse {
        try validateObjectKey(key)
        do {
            return try await send(S3Request(method: method, key: objectKey(key)))
        } catch {
            throw self.error(for: error, key: key, operation: operation)
        }
    }

    static func etag(_ response: HTTPResponse) -> String? {
        response.header("etag").map { value in
            // Without the quotes (and blanks) around it; a CharacterSet per response cost more.
            var scalars = Substring(value).unicodeScalars
            while let first = scalars.first, first == "\"" || first == " " { scalars.removeFirst() }
            while let last = scalars.last, last == "\"" || last == " " { scalars.removeLast() }
            return String(scalars).lowercased()
        }
    }

    /// ETags are the MD5 of the bytes unless the object is encrypted with KMS or a customer key.
    static func etagIsMD5(_ response: HTTPResponse) -> Bool {
        let sse = response.header("x-amz-server-side-encryption")?.lowercased() ?? ""
        return !sse.hasPrefix("aws:kms")
            && response.header("x-amz-server-side-encryption-customer-algorithm") == nil
    }

    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) by hand: a DateFormatter per
    /// response cost an ICU formatter per PUT and megabytes of ICU pages in the agent.
    package static func httpDate(_ text: String?) -> Date? {
        guard let text else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else {
            return nil
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let month = months.firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3 else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(clock[0])
        t.tm_min = Int32(clock[1])
        t.tm_sec = Int32(clock[2])
        return Date(timeIntervalSince1970: TimeInterval(timegm(&t)))
    }
}

/// A boolean shared by copies of the store.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
