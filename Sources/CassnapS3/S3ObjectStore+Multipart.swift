import CassnapCore
import CassnapCrypto
import CassnapHTTP
import CassnapObjectStore
import Foundation
import Synchronization

/// Multipart uploads: parts in parallel straight from the file, each with `Content-MD5`, resumed
/// after a restart through the `UploadSessionStore`.
///
/// Payload signing: parts are sent with `UNSIGNED-PAYLOAD` and `Content-MD5`. Signing the
/// payload would need a SHA-256 of every part on top of the whole-object SHA-256 the metadata
/// needs, while the MD5 is needed anyway (to compare with the part's ETag when resuming), and
/// the server rejects a part whose bytes do not match it (`BadDigest`).
///
/// Reads of the file: (1) the whole-object SHA-256 up front, unless the caller passed it in
/// `PutOptions.sha256` (it goes into `x-amz-meta-cassnap-sha256` at CreateMultipartUpload, before any
/// part is sent); (2) each part's MD5 just before it is sent; (3) the send itself, which finds
/// the part in the page cache after (2).
extension S3ObjectStore {
    struct Part: Sendable {
        var number: Int
        var offset: Int64
        var length: Int64
    }

    /// Shared by the part workers of one upload: the next part to take and the ETags so far.
    final class PartProgress: Sendable {
        private struct State {
            var next = 0
            var uploaded = 0
            var etags: [Int: String] = [:]
        }
        private let state = Mutex(State())

        func claim(below count: Int) -> Int? {
            state.withLock { state in
                guard state.next < count else { return nil }
                defer { state.next += 1 }
                return state.next
            }
        }

        /// Returns how many parts this upload has sent so far.
        @discardableResult
        func record(_ number: Int, etag: String, uploaded: Bool) -> Int {
            state.withLock { state in
                state.etags[number] = etag
                if uploaded { state.uploaded += 1 }
                return state.uploaded
            }
        }

        var etags: [Int: String] { state.withLock { $0.etags } }
    }

    /// A part the server already holds, as ListParts reports it.
    package struct RemotePart: Sendable {
        package var size: Int64
        package var etag: String
    }

    func putMultipart(
        key: String, file: LocalFileRange, options: PutOptions, throttle: (@Sendable (Int) -> Void)?
    ) async throws -> ObjectInfo {
        let partSize = configuration.effectivePartSize(objectSize: file.length)
        let parts = stride(from: Int64(0), to: file.length, by: Int(partSize)).enumerated().map {
            index, start in
            Part(number: index + 1, offset: file.offset + start, length: min(partSize, file.length - start))
        }
        let sha256: String
        if let given = options.sha256 {
            sha256 = given.lowercased()
        } else {
            sha256 = try await BlockingThreads.shared.run {
                try file.hash(sha256: true, md5: false).sha256!.hexString
            }
        }
        let fullKey = objectKey(key)
        let sessionKey = "s3://\(configuration.bucket)/\(fullKey)"
        let fingerprint = [
            "s3-multipart-v1", file.identity, "part=\(partSize)", "sha256=\(sha256)",
            "sse=\(String(describing: configuration.serverSideEncryption))",
            "class=\(configuration.storageClass ?? "")",
            "type=\(options.contentType)",
        ].joined(separator: " ")

        // Resume a recorded upload for the same bytes, if the server still has it.
        var uploadID: String? = nil
        var remote: [Int: RemotePart] = [:]
        if let sessions = configuration.sessionStore,
            let recorded = try await sessions.session(key: sessionKey, fingerprint: fingerprint)
        {
            if let listed = try await listParts(key: key, uploadID: recorded) {
                uploadID = recorded
                remote = listed
            } else {
                try await sessions.remove(key: sessionKey)
                // The upload is gone: maybe because our CompleteMultipartUpload succeeded but its
                // answer was lost. Then the object is already here.
                if let existing = try await headIfExists(key: key), existing.size == file.length,
                    existing.sha256 == sha256
                {
                    return existing
                }
            }
        }
        if uploadID == nil {
            uploadID = try await createMultipartUpload(key: key, options: options, sha256: sha256)
            try await configuration.sessionStore?.save(
                session: uploadID!, key: sessionKey, fingerprint: fingerprint)
        }
        let upload = uploadID!

        do {
            let etags = try await uploadParts(
                parts, key: key, uploadID: upload, file: file, remote: remote, throttle: throttle)
            let info = try await completeMultipartUpload(
                key: key, uploadID: upload, etags: etags, size: file.length, sha256: sha256)
            try? await configuration.sessionStore?.remove(key: sessionKey)
            return info
        } catch {
            let mapped = self.error(for: error, key: key, operation: "multipart upload")
            if let storeError = mapped as? ObjectStoreError, storeError.isPermanent {
                // Retrying cannot help: free the parts (they cost storage) and forget the session.
                await abortMultipartUpload(key: key, uploadID: upload)
                try? await configuration.sessionStore?.remove(key: sessionKey)
            }
            throw mapped
        }
    }

    private func createMultipartUpload(key: String, options: PutOptions, sha256: String) async throws
        -> String
    {
        let response = try await send(
            S3Request(
                method: "POST", key: objectKey(key), query: [("uploads", "")],
                headers: objectHeaders(options: options, sha256: sha256)))
        guard response.status == 200 else {
            throw error(for: response, key: key, operation: "create multipart upload")
        }
        bucketConfirmed.set()
        guard let result = XMLElementNode.parse(response.body), let id = result["UploadId"], !id.isEmpty
        else {
            throw ObjectStoreError.transient(
                store: displayName, detail: "create multipart upload \(key): answer has no UploadId")
        }
        return id
    }

    /// The parts the server holds for an upload (all pages), or nil if the upload is gone.
    /// The parts of an upload in progress by part number, or nil when the upload is gone.
    package func listParts(key: String, uploadID: String) async throws -> [Int: RemotePart]? {
        var parts: [Int: RemotePart] = [:]
        var marker: String? = nil
        repeat {
            var query: [(name: String, value: String)] = [("uploadId", uploadID), ("max-parts", "1000")]
            if let marker { query.append(("part-number-marker", marker)) }
            let response = try await send(S3Request(method: "GET", key: objectKey(key), query: query))
            if response.status == 404 {
                let code = S3ErrorDocument(response.body)?.code
                if code == "NoSuchUpload" || code == nil || code == "" { return nil }
            }
            guard response.status == 200 else {
                throw error(for: response, key: key, operation: "list parts")
            }
            // AWS answers `ListPartsResult`; moto says `ListPartsResponse`.
            guard let result = XMLElementNode.parse(response.body), result.name.hasPrefix("ListParts") else {
                throw ObjectStoreError.transient(
                    store: displayName, detail: "list parts \(key): unreadable answer")
            }
            for part in result.children("Part") {
                guard let number = part["PartNumber"].flatMap(Int.init),
                    let size = part["Size"].flatMap(Int64.init),
                    let etag = part["ETag"]
                else { continue }
                parts[number] = RemotePart(
                    size: size,
                    etag: etag.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")).lowercased())
            }
            let truncated = result["IsTruncated"] == "true"
            let next = result["NextPartNumberMarker"]
            marker = truncated && next != nil && next != marker ? next : nil
        } while marker != nil
        return parts
    }

    /// Uploads the parts the server lacks with `partConcurrency` workers; returns every part's ETag.
    private func uploadParts(
        _ parts: [Part], key: String, uploadID: String, file: LocalFileRange, remote: [Int: RemotePart],
        throttle: (@Sendable (Int) -> Void)?
    ) async throws -> [Int: String] {
        let progress = PartProgress()
        let hooks = configuration.testHooks
        let workers = max(1, min(configuration.partConcurrency, parts.count))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while true {
                        try Task.checkCancellation()
                        guard let index = progress.claim(below: parts.count) else { return }
                        let part = parts[index]
                        let md5 = try await BlockingThreads.shared.run {
                            try file.hash(sha256: false, md5: true, offset: part.offset, length: part.length)
                                .md5!
                        }
                        if let existing = remote[part.number], existing.size == part.length,
                            existing.etag == md5.hexString
                        {
                            progress.record(part.number, etag: existing.etag, uploaded: false)
                            continue
                        }
                        let etag = try await uploadPart(
                            part, md5: md5, key: key, uploadID: uploadID, file: file, throttle: throttle)
                        let count = progress.record(part.number, etag: etag, uploaded: true)
                        hooks.onPartUploaded?(part.number)
                        if let limit = hooks.failAfterParts, count >= limit {
                            throw SimulatedCrash(partsUploaded: count)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return progress.etags
    }

    /// One part, retried in place a few times on transient errors and digest mismatches: a
    /// failed 16 MiB part should not restart a 100 GiB upload from the caller's retry loop.
    private func uploadPart(
        _ part: Part, md5: [UInt8], key: String, uploadID: String, file: LocalFileRange,
        throttle: (@Sendable (Int) -> Void)?
    ) async throws -> String {
        let attempts = max(1, configuration.partAttempts)
        var attempt = 1
        while true {
            do {
                let response = try await send(
                    S3Request(
                        method: "PUT", key: objectKey(key),
                        query: [("partNumber", String(part.number)), ("uploadId", uploadID)],
                        headers: [("Content-MD5", Data(md5).base64EncodedString())],
                        body: .file(fd: file.fd, offset: part.offset, length: part.length),
                        payloadHash: SigV4Signer.unsignedPayload, throttle: throttle))
                guard response.status == 200 else {
                    throw error(for: response, key: key, operation: "upload part \(part.number)")
                }
                guard let etag = Self.etag(response), !etag.isEmpty else {
                    throw ObjectStoreError.transient(
                        store: displayName, detail: "upload part \(part.number) of \(key): no ETag")
                }
                if Self.etagIsMD5(response) && etag != md5.hexString {
                    throw ObjectStoreError.checksumMismatch(
                        store: displayName, key: key, expected: "part \(part.number) MD5 \(md5.hexString)",
                        actual: "ETag \(etag)")
                }
                return etag
            } catch {
                let mapped = self.error(for: error, key: key, operation: "upload part \(part.number)")
                guard attempt < attempts, let storeError = mapped as? ObjectStoreError, storeError.isRetryable
                else {
                    throw mapped
                }
                try await Task.sleep(for: .milliseconds(250 << attempt))
                attempt += 1
            }
        }
    }

    private func completeMultipartUpload(
        key: String, uploadID: String, etags: [Int: String], size: Int64, sha256: String
    ) async throws -> ObjectInfo {
        var xml =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for number in etags.keys.sorted() {
            xml += "<Part><PartNumber>\(number)</PartNumber><ETag>\"\(etags[number]!)\"</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        let response = try await send(
            S3Request(
                method: "POST", key: objectKey(key), query: [("uploadId", uploadID)],
                headers: [("Content-Type", "application/xml")], body: .bytes(body),
                payloadHash: Digest.sha256(body).hexString))
        guard response.status == 200 else {
            throw error(for: response, key: key, operation: "complete multipart upload")
        }
        // S3 may answer 200 and still fail: the error then arrives in the body.
        let result = XMLElementNode.parse(response.body)
        if let result, result.name == "Error" {
            let document = S3ErrorDocument(code: result["Code"] ?? "", message: result["Message"] ?? "")
            throw error(status: 200, document: document, key: key, operation: "complete multipart upload")
        }
        guard let result, result.name == "CompleteMultipartUploadResult" else {
            throw ObjectStoreError.transient(
                store: displayName,
                detail:
                    "complete multipart upload \(key): unreadable answer (the connection may have dropped)")
        }
        return ObjectInfo(
            key: key, size: size, sha256: sha256, lastModified: Self.httpDate(response.header("date")))
    }

    func abortMultipartUpload(key: String, uploadID: String) async {
        _ = try? await send(S3Request(method: "DELETE", key: objectKey(key), query: [("uploadId", uploadID)]))
    }

    /// Multipart uploads in progress under a key prefix (relative to the store's prefix), for
    /// cleaning up uploads no session remembers. Pages through every result.
    package func incompleteUploads(prefix: String = "") async throws -> [(
        key: String, uploadID: String, initiated: Date?
    )] {
        var result: [(key: String, uploadID: String, initiated: Date?)] = []
        var keyMarker: String? = nil
        var uploadMarker: String? = nil
        let root = rootPrefix
        repeat {
            var query: [(name: String, value: String)] = [("uploads", ""), ("prefix", root + prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadMarker { query.append(("upload-id-marker", uploadMarker)) }
            let response: HTTPResponse
            do {
                response = try await send(S3Request(method: "GET", key: nil, query: query))
            } catch {
                throw self.error(for: error, key: nil, operation: "list multipart uploads")
            }
            guard response.status == 200, let page = XMLElementNode.parse(response.body) else {
                throw error(for: response, key: nil, operation: "list multipart uploads")
            }
            for upload in page.children("Upload") {
                guard let fullKey = upload["Key"], let id = upload["UploadId"], fullKey.hasPrefix(root) else {
                    continue
                }
                result.append(
                    (String(fullKey.dropFirst(root.count)), id, upload["Initiated"].flatMap(parseISO8601)))
            }
            if page["IsTruncated"] == "true" {
                keyMarker = page["NextKeyMarker"]
                uploadMarker = page["NextUploadIdMarker"]
                if keyMarker == nil { break }
            } else {
                keyMarker = nil
            }
        } while keyMarker != nil
        return result
    }

    /// Aborts an upload found by `incompleteUploads`.
    package func abortUpload(key: String, uploadID: String) async throws {
        try validateObjectKey(key)
        let response: HTTPResponse
        do {
            response = try await send(
                S3Request(method: "DELETE", key: objectKey(key), query: [("uploadId", uploadID)]))
        } catch {
            throw self.error(for: error, key: key, operation: "abort multipart upload")
        }
        guard response.status == 204 || response.status == 200 || response.status == 404 else {
            throw error(for: response, key: key, operation: "abort multipart upload")
        }
    }
}
