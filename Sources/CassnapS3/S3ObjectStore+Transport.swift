import CassnapCrypto
import CassnapHTTP
import CassnapObjectStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where requests go: scheme, host and port of the endpoint, and whether the bucket goes in
/// the host name or the path.
struct Endpoint: Sendable {
    let scheme: String
    let host: String
    let port: Int?
    let basePath: String
    let bucket: String
    let pathStyle: Bool
    /// The Host header as curl sends it: the port only when it is not the scheme's default.
    let hostHeader: String

    init(configuration: S3ObjectStore.Configuration) throws {
        let base = configuration.endpoint ?? "https://s3.\(configuration.region).amazonaws.com"
        guard let components = URLComponents(string: base), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw ObjectStoreError.invalidURL(url: base, reason: "the S3 endpoint must be an http(s) URL")
        }
        self.scheme = scheme
        self.host = host
        port = components.port
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        bucket = configuration.bucket
        pathStyle = configuration.usesPathStyle
        hostHeader = Self.hostHeader(scheme: scheme, host: pathStyle ? host : "\(bucket).\(host)", port: port)
    }

    private static func hostHeader(scheme: String, host name: String, port: Int?) -> String {
        let bracketed = name.contains(":") ? "[\(name)]" : name
        guard let port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) else {
            return bracketed
        }
        return "\(bracketed):\(port)"
    }

    /// Decoded request path for an object key, or the bucket itself when `key` is nil.
    func path(key: String?) -> String {
        if pathStyle { return basePath + "/" + bucket + (key.map { "/" + $0 } ?? "") }
        return basePath + "/" + (key ?? "")
    }
}

/// One S3 call before signing.
struct S3Request: Sendable {
    var method: String
    /// The full object key (prefix included), or nil for a bucket-level call.
    var key: String?
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []
    var body: HTTPRequest.Body = .none
    var payloadHash: String = SigV4Signer.emptyPayloadHash
    var sink: HTTPRequest.Sink = .memory(limit: 16 << 20)
    var throttle: (@Sendable (Int) -> Void)? = nil
}

extension S3ObjectStore {
    /// Signs and performs one request. Throws only for transport and credential failures; HTTP
    /// error statuses come back for the caller to map.
    func send(_ request: S3Request) async throws -> HTTPResponse {
        try await send { (request, ()) }.response
    }

    /// Like `send(_:)`, with the request built on the transfer's own thread: a PUT hashes its
    /// body there and then sends it, one thread hand-off instead of two.
    func send<Context: Sendable>(
        preparing prepare: @escaping @Sendable () throws -> (S3Request, Context)
    ) async throws -> (response: HTTPResponse, context: Context) {
        let credentials = try await configuration.credentials.credentials()
        return try await http.perform {
            let (request, context) = try prepare()
            return (self.signed(request, credentials: credentials), context)
        }
    }

    private func signed(_ request: S3Request, credentials: AWSCredentials) -> HTTPRequest {
        let host = endpoint.hostHeader
        var headers = request.headers
        headers.append(("Host", host))
        let signed = signer.sign(
            SigV4Signer.Request(
                method: request.method, path: endpoint.path(key: request.key), query: request.query,
                headers: headers,
                payloadHash: request.payloadHash),
            credentials: credentials)
        var url = "\(endpoint.scheme)://\(host)\(signed.encodedPath)"
        if !signed.encodedQuery.isEmpty { url += "?" + signed.encodedQuery }
        return HTTPRequest(
            method: request.method, url: url, headers: signed.headers, body: request.body,
            sink: request.sink,
            throttle: request.throttle)
    }
}

/// An open local file and the byte range to upload from it. Reads use `pread`, so parts can be
/// read in parallel through one descriptor.
struct LocalFileRange: Sendable {
    let path: String
    let fd: Int32
    let offset: Int64
    let length: Int64
    /// Identity of the file for resume fingerprints: a changed file never resumes an old upload.
    let identity: String

    init(path: String, offset: Int64, length: Int64?) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason =
                errno == ENOENT
                ? "no such file (it vanished before upload?)" : String(cString: strerror(errno))
            throw ObjectStoreError.localFile(path: path, reason: reason)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ObjectStoreError.localFile(path: path, reason: "stat failed: \(reason)")
        }
        let fileSize = Int64(st.st_size)
        let length = length ?? max(0, fileSize - offset)
        guard offset >= 0, length >= 0, offset + length <= fileSize else {
            Glibc.close(fd)
            throw ObjectStoreError.localFile(
                path: path,
                reason: "range \(offset)+\(length) is beyond the end of the file (\(fileSize) bytes)")
        }
        self.path = path
        self.fd = fd
        self.offset = offset
        self.length = length
        identity =
            "dev=\(st.st_dev) ino=\(st.st_ino) size=\(fileSize) mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) range=\(offset)+\(length)"
    }

    func close() { _ = Glibc.close(fd) }

    /// Reads `length` bytes from `offset` once, feeding the requested digests.
    func hash(sha256: Bool, md5: Bool, offset: Int64? = nil, length: Int64? = nil) throws -> (
        sha256: [UInt8]?, md5: [UInt8]?
    ) {
        let start = offset ?? self.offset
        let count = length ?? self.length
        let sha = sha256 ? Hasher(.sha256) : nil
        let md = md5 ? Hasher(.md5) : nil
        let chunk = Digest.readBufferSize(fd: fd, offset: start, length: count, limit: Digest.fileBufferSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < count {
            let want = Int(min(Int64(chunk), count - done))
            let n = pread(fd, buffer.baseAddress, want, off_t(start + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ObjectStoreError.localFile(
                    path: path, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw ObjectStoreError.localFile(
                    path: path,
                    reason: "file shrank while reading: wanted \(count) bytes from \(start), got \(done)")
            }
            let slice = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            sha?.update(slice)
            md?.update(slice)
            done += Int64(n)
        }
        return (sha?.finalize(), md?.finalize())
    }

    static func sha256(path: String) throws -> String {
        let file = try LocalFileRange(path: path, offset: 0, length: nil)
        defer { file.close() }
        return try file.hash(sha256: true, md5: false).sha256!.hexString
    }
}
