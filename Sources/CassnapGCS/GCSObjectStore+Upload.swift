import CassnapHTTP
import CassnapObjectStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension GCSObjectStore {
    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try validateObjectKey(key)
        let (content, fd) = try openContent(source.content)
        defer { if fd >= 0 { close(fd) } }
        let sums: LocalChecksums
        do {
            sums = try LocalChecksums.compute(content, sha256: true)
        } catch {
            throw ObjectStoreError.localFile(path: sourcePath(source), reason: "\(error)")
        }
        let sha256 = sums.sha256!
        // A caller's checksum that the bytes do not match means the file changed after the
        // caller read it: store nothing rather than bytes nobody vouched for.
        if let expected = options.sha256?.lowercased(), expected != sha256 {
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: expected, actual: sha256)
        }
        configuration.testHooks.afterHashing?()

        let upload = Upload(
            key: key, content: content, sha256: sha256, checksums: sums, contentType: options.contentType,
            throttle: source.throttle)
        let object: GCSObjectResource
        if content.length < max(1, configuration.resumableThreshold) {
            object = try await multipartUpload(upload)
        } else {
            object = try await resumableUpload(upload)
        }
        try await verify(object, upload)
        return ObjectInfo(key: key, size: content.length, sha256: sha256, lastModified: object.lastModified)
    }

    /// What one `put` sends, with the checksums computed before the first byte leaves.
    struct Upload {
        var key: String
        var content: LocalContent
        var sha256: String
        var checksums: LocalChecksums
        var contentType: String
        var throttle: (@Sendable (Int) -> Void)?

        /// The object resource sent with the bytes. GCS rejects the upload when the bytes do not
        /// match `md5Hash` / `crc32c`; emulators ignore them, so `verify` checks again.
        func metadata(name: String) -> [String: Any] {
            [
                "name": name, "contentType": contentType, "md5Hash": checksums.md5Base64,
                "crc32c": checksums.crc32cBase64,
                "metadata": [
                    GCSObjectResource.sha256MetadataKey: sha256,
                    GCSObjectResource.sizeMetadataKey: String(content.length),
                ],
            ]
        }

        /// Identifies the bytes, so a recorded session is resumed only for the same content.
        var fingerprint: String {
            "gcs1 size=\(content.length) sha256=\(sha256) md5=\(checksums.md5Base64) crc32c=\(checksums.crc32cBase64)"
        }
    }

    private func openContent(_ content: ObjectSource.Content) throws -> (LocalContent, Int32) {
        switch content {
        case .bytes(let bytes):
            return (.bytes(bytes), -1)
        case .file(let path, let offset, let length):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw ObjectStoreError.localFile(path: path, reason: "cannot open: \(errnoText())")
            }
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let reason = errnoText()
                close(fd)
                throw ObjectStoreError.localFile(path: path, reason: "fstat: \(reason)")
            }
            let size = Int64(st.st_size)
            let count = length ?? (size - offset)
            guard offset >= 0, count >= 0, offset + count <= size else {
                close(fd)
                throw ObjectStoreError.localFile(
                    path: path, reason: "range \(offset)+\(count) lies beyond the file's \(size) bytes")
            }
            return (.file(fd: fd, offset: offset, length: count), fd)
        }
    }

    private func sourcePath(_ source: ObjectSource) -> String {
        if case .file(let path, _, _) = source.content { return path }
        return "(memory)"
    }

    /// Size, MD5, CRC32C and our SHA-256 metadata as the server recorded them. A mismatch
    /// deletes that generation of the object, so a bad object is never left as if stored.
    private func verify(_ object: GCSObjectResource, _ upload: Upload) async throws {
        var mismatch: (expected: String, actual: String)?
        if object.byteCount != upload.content.length {
            mismatch = ("\(upload.content.length) bytes", "\(object.byteCount) bytes")
        } else if let md5 = object.md5Hash, md5 != upload.checksums.md5Base64 {
            mismatch = ("md5 \(upload.checksums.md5Base64)", "md5 \(md5)")
        } else if let crc = object.crc32c, crc != upload.checksums.crc32cBase64 {
            mismatch = ("crc32c \(upload.checksums.crc32cBase64)", "crc32c \(crc)")
        } else if object.sha256 != upload.sha256 {
            mismatch = ("sha256 metadata \(upload.sha256)", "sha256 metadata \(object.sha256 ?? "none")")
        }
        guard let mismatch else { return }
        try? await deleteObject(key: upload.key, generation: object.generation)
        throw ObjectStoreError.checksumMismatch(
            store: displayName, key: upload.key, expected: mismatch.expected, actual: mismatch.actual)
    }

    // MARK: - Multipart (one request)

    private func multipartUpload(_ upload: Upload) async throws -> GCSObjectResource {
        let boundary = "cassnap-" + UUID().uuidString
        let metadata = try JSONSerialization.data(
            withJSONObject: upload.metadata(name: objectName(upload.key)))
        let data: [UInt8]
        do {
            data = try upload.content.readAll()
        } catch {
            throw ObjectStoreError.localFile(path: "(upload source)", reason: "\(error)")
        }
        var body = Array("--\(boundary)\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".utf8)
        body += metadata
        body += Array("\r\n--\(boundary)\r\nContent-Type: \(upload.contentType)\r\n\r\n".utf8)
        body += data
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        let request = HTTPRequest(
            method: "POST", url: url("/upload" + bucketPath + "/o", [("uploadType", "multipart")]),
            headers: [("Content-Type", "multipart/related; boundary=\(boundary)")], body: .bytes(body),
            throttle: upload.throttle)
        let response = try await send(request)
        guard response.status == 200 || response.status == 201 else {
            throw await failure(response, key: upload.key)
        }
        return try decode(response, key: upload.key)
    }

    // MARK: - Resumable (session + chunks, recoverable)

    /// What the `UploadSessionStore` keeps per key: the session URI and the bytes the server
    /// acknowledged so far.
    struct SessionRecord: Codable {
        var uri: String
        var committed: Int64
    }

    private enum SessionState {
        case offset(Int64)
        case complete(GCSObjectResource)
        case gone
    }

    private func resumableUpload(_ upload: Upload) async throws -> GCSObjectResource {
        let sessions = configuration.sessionStore
        let total = upload.content.length
        var record: SessionRecord?
        if let saved = try await sessions.session(key: upload.key, fingerprint: upload.fingerprint),
            let decoded = try? JSONDecoder().decode(SessionRecord.self, from: Data(saved.utf8))
        {
            switch try await sessionState(decoded, upload) {
            case .complete(let object):
                try await sessions.remove(key: upload.key)
                return object
            case .offset(let committed):
                record = SessionRecord(uri: decoded.uri, committed: committed)
            case .gone:
                try await sessions.remove(key: upload.key)
            }
        }
        if record == nil {
            record = SessionRecord(uri: try await startSession(upload), committed: 0)
            try await save(record!, upload)
        }
        var session = record!
        let chunkSize = Int64(configuration.effectiveChunkSize)
        var chunksAcknowledged = 0
        var failures = 0
        while true {
            let count = min(chunkSize, total - session.committed)
            let last = session.committed + count - 1
            let request = HTTPRequest(
                method: "PUT", url: session.uri,
                headers: [
                    ("Content-Range", "bytes \(session.committed)-\(last)/\(total)"),
                    ("Content-Type", upload.contentType),
                ],
                body: upload.content.body(from: session.committed, count: count), throttle: upload.throttle)
            var failure: ObjectStoreError
            do {
                let response = try await send(request)
                switch response.status {
                case 200, 201:
                    try await sessions.remove(key: upload.key)
                    return try decode(response, key: upload.key)
                case 308:
                    session.committed = GCSObjectStore.committedBytes(response.header("Range"))
                    try await save(session, upload)
                    chunksAcknowledged += 1
                    failures = 0
                    if let limit = configuration.testHooks.failAfterChunks, chunksAcknowledged >= limit {
                        throw ObjectStoreError.transient(
                            store: displayName,
                            detail: "upload interrupted by a test hook after \(limit) chunks")
                    }
                    continue
                case 404, 410:
                    try await sessions.remove(key: upload.key)
                    throw ObjectStoreError.transient(
                        store: displayName,
                        detail: "resumable upload session for \(upload.key) expired; it restarts on retry")
                case 408, 429, 500...599:
                    failure = await self.failure(response, key: upload.key)
                default:
                    throw await self.failure(response, key: upload.key)
                }
            } catch let error as ObjectStoreError where error.isRetryable && !isTestInterruption(error) {
                failure = error
            }
            // A chunk failed in flight: learn what the server kept and continue from there.
            failures += 1
            guard failures <= configuration.chunkRecoveryAttempts else { throw failure }
            try await Task.sleep(for: .milliseconds(200 * failures))
            switch try await sessionState(session, upload) {
            case .complete(let object):
                try await sessions.remove(key: upload.key)
                return object
            case .offset(let committed):
                session.committed = committed
                try await save(session, upload)
            case .gone:
                try await sessions.remove(key: upload.key)
                throw failure
            }
        }
    }

    private func isTestInterruption(_ error: ObjectStoreError) -> Bool {
        if case .transient(_, let detail) = error { return detail.contains("interrupted by a test hook") }
        return false
    }

    private func save(_ record: SessionRecord, _ upload: Upload) async throws {
        let text = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        try await configuration.sessionStore.save(
            session: text, key: upload.key, fingerprint: upload.fingerprint)
    }

    /// Starts a session: the object resource (name, checksums, our metadata) goes first, the
    /// bytes follow in chunks to the URI from `Location`.
    private func startSession(_ upload: Upload) async throws -> String {
        let metadata = try JSONSerialization.data(
            withJSONObject: upload.metadata(name: objectName(upload.key)))
        let request = HTTPRequest(
            method: "POST", url: url("/upload" + bucketPath + "/o", [("uploadType", "resumable")]),
            headers: [
                ("Content-Type", "application/json; charset=UTF-8"),
                ("X-Upload-Content-Type", upload.contentType),
                ("X-Upload-Content-Length", String(upload.content.length)),
            ],
            body: .bytes(Array(metadata)))
        let response = try await send(request)
        guard response.status == 200 || response.status == 201 else {
            throw await failure(response, key: upload.key)
        }
        guard let location = response.header("Location"), !location.isEmpty else {
            throw ObjectStoreError.transient(
                store: displayName, detail: "resumable upload started without a session URI")
        }
        return location
    }

    /// How far a recorded session got: from the server (`Content-Range: bytes */total`), or from
    /// our own record for emulators that cannot answer that question.
    private func sessionState(_ record: SessionRecord, _ upload: Upload) async throws -> SessionState {
        guard configuration.resumeOffset == .server else { return .offset(record.committed) }
        let request = HTTPRequest(
            method: "PUT", url: record.uri, headers: [("Content-Range", "bytes */\(upload.content.length)")])
        let response = try await send(request)
        switch response.status {
        case 308: return .offset(GCSObjectStore.committedBytes(response.header("Range")))
        case 200, 201: return .complete(try decode(response, key: upload.key))
        case 404, 410: return .gone
        default: throw await failure(response, key: upload.key)
        }
    }

    /// `Range: bytes=0-N` means N+1 bytes are stored; no header means none.
    static func committedBytes(_ range: String?) -> Int64 {
        guard let range, let dash = range.lastIndex(of: "-"),
            let end = Int64(range[range.index(after: dash)...])
        else {
            return 0
        }
        return end + 1
    }
}
