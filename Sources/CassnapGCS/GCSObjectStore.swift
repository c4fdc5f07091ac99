import CassnapCrypto
import CassnapHTTP
import CassnapObjectStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Google Cloud Storage through the JSON API: multipart uploads for small objects, resumable
/// uploads (recorded in the `UploadSessionStore`, so they continue after a restart) for large
/// ones, MD5 and CRC32C checked on every upload, SHA-256 and size kept as custom metadata.
///
/// Keys map to object names `<prefix>/<key>`. The store never loops on errors (a retry wrapper
/// does that), except to recover a resumable upload from a failed chunk.
package final class GCSObjectStore: ObjectStore {
    package let configuration: Configuration
    package let displayName: String
    let client: CurlHTTPClient

    package init(configuration: Configuration) {
        self.configuration = configuration
        displayName =
            "gs://\(configuration.bucket)" + (configuration.prefix.isEmpty ? "" : "/\(configuration.prefix)")
        client = CurlHTTPClient(configuration: configuration.http)
    }

    // MARK: - Names and URLs

    func objectName(_ key: String) -> String {
        configuration.prefix.isEmpty ? key : configuration.prefix + "/" + key
    }

    func key(fromObjectName name: String) -> String {
        configuration.prefix.isEmpty ? name : String(name.dropFirst(configuration.prefix.count + 1))
    }

    var bucketPath: String { "/storage/v1/b/" + PercentEncoding.encode(configuration.bucket) }

    func objectPath(_ key: String) -> String {
        bucketPath + "/o/" + PercentEncoding.encode(objectName(key))
    }

    func url(_ path: String, _ query: [(String, String)] = []) -> String {
        configuration.endpoint + path + (query.isEmpty ? "" : "?" + PercentEncoding.query(query))
    }

    // MARK: - ObjectStore

    package func head(key: String) async throws -> ObjectInfo {
        try validateObjectKey(key)
        return try await resource(key: key).info(key: key)
    }

    func resource(key: String) async throws -> GCSObjectResource {
        let response = try await send(HTTPRequest(method: "GET", url: url(objectPath(key))))
        guard response.status == 200 else { throw await failure(response, key: key) }
        return try decode(response, key: key)
    }

    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try validateObjectKey(key)
        let object = try await resource(key: key)
        let temporary = GCSObjectStore.temporaryPath(beside: localPath)
        let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ObjectStoreError.localFile(
                path: localPath, reason: "cannot create \(temporary): \(errnoText())")
        }
        var keep = false
        defer {
            close(fd)
            if !keep { unlink(temporary) }
        }
        var query = [("alt", "media")]
        if let generation = object.generation { query.append(("generation", generation)) }
        let response = try await send(
            HTTPRequest(method: "GET", url: url(objectPath(key), query), sink: .file(fd: fd)))
        guard response.status == 200 else { throw await failure(response, key: key) }
        guard fsync(fd) == 0 else {
            throw ObjectStoreError.localFile(path: temporary, reason: "fsync: \(errnoText())")
        }
        guard response.bytesWritten == object.byteCount else {
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: "\(object.byteCount) bytes",
                actual: "\(response.bytesWritten) bytes")
        }
        try verifyDownload(fd: fd, path: temporary, object: object, key: key)
        guard rename(temporary, localPath) == 0 else {
            throw ObjectStoreError.localFile(
                path: localPath, reason: "rename from \(temporary): \(errnoText())")
        }
        keep = true
        return object.info(key: key)
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
                HTTPRequest(
                    method: "GET", url: url(objectPath(key), [("alt", "media")]), headers: headers,
                    sink: .stream(sink.write)))
        } catch {
            _ = try sink.finish(path: key)  // a local write failure is the real cause
            throw error
        }
        guard response.status == 200 || response.status == 206 else {
            throw await failure(response, key: key)
        }
        let read = try sink.finish(path: key)
        if let range = target.range, read.bytes != Int64(range.count) {
            throw ObjectStoreError.transient(
                store: displayName,
                detail:
                    "get \(key): asked for \(range.count) bytes from \(range.lowerBound), got \(read.bytes)")
        }
        return read
    }

    /// Checks the downloaded bytes against the strongest checksum the object carries: our
    /// SHA-256 metadata, else GCS's MD5 (absent for composite objects), else its CRC32C.
    private func verifyDownload(fd: Int32, path: String, object: GCSObjectResource, key: String) throws {
        let local: LocalChecksums
        do {
            local = try LocalChecksums.compute(
                .file(fd: fd, offset: 0, length: object.byteCount),
                sha256: object.sha256 != nil)
        } catch {
            throw ObjectStoreError.localFile(path: path, reason: "\(error)")
        }
        if let expected = object.sha256 {
            if local.sha256 != expected.lowercased() {
                throw ObjectStoreError.checksumMismatch(
                    store: displayName, key: key, expected: "sha256 \(expected)",
                    actual: "sha256 \(local.sha256 ?? "")")
            }
        } else if let expected = object.md5Hash {
            if local.md5Base64 != expected {
                throw ObjectStoreError.checksumMismatch(
                    store: displayName, key: key, expected: "md5 \(expected)",
                    actual: "md5 \(local.md5Base64)")
            }
        } else if let expected = object.crc32c, local.crc32cBase64 != expected {
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: "crc32c \(expected)",
                actual: "crc32c \(local.crc32cBase64)")
        }
    }

    package func list(prefix: String) async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        try await listPages(prefix: prefix) { result += $0 }
        return result.sorted { $0.key < $1.key }
    }

    package func listPages(prefix: String, _ pageHandler: ([ObjectInfo]) async throws -> Void) async throws {
        var pageToken: String?
        let namePrefix = configuration.prefix.isEmpty ? prefix : configuration.prefix + "/" + prefix
        repeat {
            var query = [
                ("prefix", namePrefix), ("maxResults", String(max(1, configuration.maxResults))),
                ("fields", "items(name,size,md5Hash,crc32c,generation,updated,metadata),nextPageToken"),
            ]
            if let pageToken { query.append(("pageToken", pageToken)) }
            let response = try await send(HTTPRequest(method: "GET", url: url(bucketPath + "/o", query)))
            guard response.status == 200 else { throw await failure(response, key: nil) }
            let page: GCSObjectList
            do {
                page = try JSONDecoder().decode(GCSObjectList.self, from: Data(response.body))
            } catch {
                throw ObjectStoreError.permanent(
                    store: displayName, detail: "unreadable object listing: \(error)")
            }
            var result: [ObjectInfo] = []
            for item in page.items ?? [] where item.name.hasPrefix(namePrefix) {
                result.append(item.info(key: key(fromObjectName: item.name)))
            }
            pageToken = page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
            try await pageHandler(result.sorted { $0.key < $1.key })
        } while pageToken != nil
    }

    package func delete(key: String) async throws {
        try validateObjectKey(key)
        try await deleteObject(key: key, generation: nil)
    }

    /// Deletes one object; `generation` limits the delete to that version of it.
    func deleteObject(key: String, generation: String?) async throws {
        let query = generation.map { [("ifGenerationMatch", $0)] } ?? []
        let response = try await send(HTTPRequest(method: "DELETE", url: url(objectPath(key), query)))
        switch response.status {
        case 200, 204: return
        case 404:
            // Deletes are idempotent, but a missing bucket is a configuration error.
            let error = await failure(response, key: key)
            if case .noSuchBucket = error { throw error }
        case 412 where generation != nil: return  // replaced meanwhile: not ours to delete
        default: throw await failure(response, key: key)
        }
    }

    /// Creates the bucket (tests and demos); an existing bucket is fine.
    package func createBucket() async throws {
        guard let project = configuration.project else {
            throw ObjectStoreError.permanent(store: displayName, detail: "creating a bucket needs a project")
        }
        let body = try JSONSerialization.data(withJSONObject: ["name": configuration.bucket])
        let response = try await send(
            HTTPRequest(
                method: "POST", url: url("/storage/v1/b", [("project", project)]),
                headers: [("Content-Type", "application/json")], body: .bytes(Array(body))))
        guard response.status == 200 || response.status == 409 else {
            throw await failure(response, key: nil)
        }
    }

    // MARK: - Transport and errors

    /// Sends a request with credentials; transport and credential failures become store errors.
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var request = request
        do {
            if let authorization = try await configuration.credentials.authorization() {
                request.headers.append(("Authorization", authorization))
            }
        } catch let error as GCSCredentialsError {
            if error.isRetryable {
                throw ObjectStoreError.transient(store: displayName, detail: error.description)
            }
            throw ObjectStoreError.accessDenied(
                store: displayName, bucket: configuration.bucket, detail: error.description)
        }
        do {
            return try await client.perform(request)
        } catch let error as HTTPError {
            if error.isRetryable {
                throw ObjectStoreError.transient(store: displayName, detail: error.description)
            }
            throw ObjectStoreError.permanent(store: displayName, detail: error.description)
        }
    }

    /// Maps an unsuccessful answer to a store error. `key` is nil for bucket-level calls, where
    /// a 404 can only mean the bucket.
    func failure(_ response: HTTPResponse, key: String?) async -> ObjectStoreError {
        await failure(status: response.status, body: response.body, key: key)
    }

    func failure(status: Int, body: [UInt8], key: String?) async -> ObjectStoreError {
        let message = GCSErrorBody.message(body)
        switch status {
        case 401:
            await configuration.credentials.invalidate()
            return .accessDenied(
                store: displayName, bucket: configuration.bucket, detail: "HTTP 401: \(message)")
        case 403:
            return .accessDenied(
                store: displayName, bucket: configuration.bucket, detail: "HTTP 403: \(message)")
        case 404:
            guard let key else { return .noSuchBucket(store: displayName, bucket: configuration.bucket) }
            return await bucketExists()
                ? .notFound(store: displayName, key: key)
                : .noSuchBucket(store: displayName, bucket: configuration.bucket)
        case 408, 429, 500...599:
            return .transient(store: displayName, detail: "HTTP \(status): \(message)")
        default:
            return .permanent(store: displayName, detail: "HTTP \(status): \(message)")
        }
    }

    /// Tells a missing object from a missing bucket: GCS says "No such object", emulators only
    /// "Not Found", so ask for the bucket when in doubt. Errors count as "exists".
    private func bucketExists() async -> Bool {
        guard
            let response = try? await send(
                HTTPRequest(method: "GET", url: url(bucketPath, [("fields", "name")])))
        else { return true }
        return response.status != 404
    }

    func decode(_ response: HTTPResponse, key: String) throws -> GCSObjectResource {
        do {
            return try GCSObjectResource.decode(response.body)
        } catch {
            throw ObjectStoreError.permanent(
                store: displayName, detail: "unreadable object resource for \(key): \(error)")
        }
    }

    static func temporaryPath(beside path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        return directory + "/." + url.lastPathComponent + ".cassnap-"
            + UUID().uuidString.prefix(8).lowercased()
    }
}

func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
