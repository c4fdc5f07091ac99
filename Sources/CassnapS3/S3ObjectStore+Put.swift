import CassnapCore
import CassnapCrypto
import CassnapHTTP
import CassnapObjectStore
import Foundation

/// Uploads in one request: the bytes are hashed (SHA-256 for the metadata and the signed
/// payload hash, MD5 for `Content-MD5`) and sent on the transfer's thread; from
/// `multipartThreshold` on, `S3ObjectStore+Multipart` takes over.
extension S3ObjectStore {
    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try validateObjectKey(key)
        do {
            switch source.content {
            case .bytes(let bytes):
                return try await putBytes(key: key, bytes: bytes, options: options, throttle: source.throttle)
            case .file(let path, let offset, let length):
                let file = try LocalFileRange(path: path, offset: offset, length: length)
                defer { file.close() }
                if file.length >= configuration.multipartThreshold && file.length > 0 {
                    return try await putMultipart(
                        key: key, file: file, options: options, throttle: source.throttle)
                }
                return try await putFile(key: key, file: file, options: options, throttle: source.throttle)
            }
        } catch {
            throw self.error(for: error, key: key, operation: "put")
        }
    }

    fileprivate func putBytes(
        key: String, bytes: [UInt8], options: PutOptions, throttle: (@Sendable (Int) -> Void)?
    ) async throws -> ObjectInfo {
        let sha256 = Digest.sha256(bytes).hexString
        let md5 = Digest.md5(bytes)
        try checkCallerDigest(options.sha256, actual: sha256, key: key)
        let response = try await send(
            putRequest(
                key: key, body: bytes.isEmpty ? .none : .bytes(bytes), sha256: sha256, md5: md5,
                options: options, throttle: throttle))
        return try await putResult(response, key: key, size: Int64(bytes.count), sha256: sha256, md5: md5)
    }

    /// One read to hash (SHA-256 for the metadata and the signed payload hash, MD5 for
    /// Content-MD5), one read to send, both on the transfer's thread.
    fileprivate func putFile(
        key: String, file: LocalFileRange, options: PutOptions, throttle: (@Sendable (Int) -> Void)?
    ) async throws -> ObjectInfo {
        let (response, digests) = try await send { () throws -> (S3Request, (sha256: String, md5: [UInt8])) in
            let digests = try file.hash(sha256: true, md5: true)
            let sha256 = digests.sha256!.hexString
            try checkCallerDigest(options.sha256, actual: sha256, key: key)
            let request = putRequest(
                key: key,
                body: file.length == 0 ? .none : .file(fd: file.fd, offset: file.offset, length: file.length),
                sha256: sha256, md5: digests.md5!, options: options, throttle: throttle)
            return (request, (sha256, digests.md5!))
        }
        return try await putResult(
            response, key: key, size: file.length, sha256: digests.sha256, md5: digests.md5)
    }

    fileprivate func putRequest(
        key: String, body: HTTPRequest.Body, sha256: String, md5: [UInt8], options: PutOptions,
        throttle: (@Sendable (Int) -> Void)?
    ) -> S3Request {
        var headers = objectHeaders(options: options, sha256: sha256)
        headers.append(("Content-MD5", Data(md5).base64EncodedString()))
        return S3Request(
            method: "PUT", key: objectKey(key), headers: headers, body: body, payloadHash: sha256,
            throttle: throttle)
    }

    fileprivate func putResult(
        _ response: HTTPResponse, key: String, size: Int64, sha256: String, md5: [UInt8]
    )
        async throws -> ObjectInfo
    {
        guard response.status == 200 else { throw error(for: response, key: key, operation: "put") }
        bucketConfirmed.set()
        if let etag = Self.etag(response), Self.etagIsMD5(response), etag != md5.hexString {
            // The server kept bytes that differ from ours (some S3-compatible servers ignore
            // Content-MD5): remove them so a corrupt object is never left under the key.
            _ = try? await send(S3Request(method: "DELETE", key: objectKey(key)))
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: "MD5 \(md5.hexString)", actual: "ETag \(etag)")
        }
        return ObjectInfo(
            key: key, size: size, sha256: sha256, lastModified: Self.httpDate(response.header("date")))
    }

    fileprivate func checkCallerDigest(_ expected: String?, actual: String, key: String) throws {
        if let expected, expected.lowercased() != actual {
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: "SHA-256 \(expected) (given by the caller)",
                actual: "SHA-256 \(actual) (the file changed?)")
        }
    }

    /// Headers every new object carries: type, checksum metadata, encryption, storage class.
    func objectHeaders(options: PutOptions, sha256: String) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [
            ("Content-Type", options.contentType), (Self.sha256MetadataHeader, sha256),
        ]
        switch configuration.serverSideEncryption {
        case nil: break
        case .s3: headers.append(("x-amz-server-side-encryption", "AES256"))
        case .kms(let keyID):
            headers.append(("x-amz-server-side-encryption", "aws:kms"))
            if let keyID { headers.append(("x-amz-server-side-encryption-aws-kms-key-id", keyID)) }
        }
        if let storageClass = configuration.storageClass {
            headers.append(("x-amz-storage-class", storageClass))
        }
        return headers
    }
}
