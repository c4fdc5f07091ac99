import CassnapCore
import CassnapCrypto
import CassnapHTTP
import CassnapObjectStore
import Foundation

/// Deletes: one key, or many through DeleteObjects, 1000 keys per request.
extension S3ObjectStore {
    package func delete(key: String) async throws {
        let response = try await send(bodiless: "DELETE", key: key, operation: "delete")
        switch response.status {
        case 200, 204: return
        case 404:
            if S3ErrorDocument(response.body)?.code == "NoSuchBucket" {
                throw ObjectStoreError.noSuchBucket(store: displayName, bucket: configuration.bucket)
            }
        default:
            throw error(for: response, key: key, operation: "delete")
        }
    }

    /// DeleteObjects, 1000 keys per request. Keys that were already gone count as deleted; keys
    /// the server refused are reported together in one error.
    package func delete(keys: [String]) async throws {
        for key in keys { try validateObjectKey(key) }
        var start = 0
        while start < keys.count {
            let batch = Array(keys[start..<min(start + 1000, keys.count)])
            try await deleteBatch(batch)
            start += batch.count
        }
    }

    fileprivate func deleteBatch(_ keys: [String]) async throws {
        var xml =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
        for key in keys { xml += "<Object><Key>\(XMLText.escape(objectKey(key)))</Key></Object>" }
        xml += "</Delete>"
        let body = Array(xml.utf8)
        let response: HTTPResponse
        do {
            response = try await send(
                S3Request(
                    method: "POST", key: nil, query: [("delete", "")],
                    headers: [
                        ("Content-MD5", Data(Digest.md5(body)).base64EncodedString()),
                        ("Content-Type", "application/xml"),
                    ],
                    body: .bytes(body), payloadHash: Digest.sha256(body).hexString))
        } catch {
            throw self.error(for: error, key: nil, operation: "delete \(keys.count) keys")
        }
        guard response.status == 200, let result = XMLElementNode.parse(response.body),
            result.name == "DeleteResult"
        else {
            if response.status == 200 {
                if let document = S3ErrorDocument(response.body) {
                    throw error(
                        status: 200, document: document, key: nil, operation: "delete \(keys.count) keys")
                }
                throw ObjectStoreError.transient(
                    store: displayName, detail: "delete: unreadable DeleteObjects answer")
            }
            throw error(for: response, key: nil, operation: "delete \(keys.count) keys")
        }
        let root = rootPrefix
        let failures = result.children("Error").compactMap {
            entry -> (key: String, code: String, message: String)? in
            let code = entry["Code"] ?? ""
            if code == "NoSuchKey" { return nil }
            let fullKey = entry["Key"] ?? "?"
            return (
                fullKey.hasPrefix(root) ? String(fullKey.dropFirst(root.count)) : fullKey, code,
                entry["Message"] ?? ""
            )
        }
        guard !failures.isEmpty else { return }
        let listed = failures.prefix(10).map { "\($0.key) (\($0.code): \($0.message))" }.joined(
            separator: ", ")
        let detail =
            "\(failures.count) of \(keys.count) keys not deleted: \(listed)"
            + (failures.count > 10 ? ", ..." : "")
        let codes = Set(failures.map(\.code))
        if codes.contains("AccessDenied") {
            throw ObjectStoreError.accessDenied(
                store: displayName, bucket: configuration.bucket, detail: detail)
        }
        if codes.isSubset(of: ["InternalError", "SlowDown", "ServiceUnavailable", "OperationAborted"]) {
            throw ObjectStoreError.transient(store: displayName, detail: detail)
        }
        throw ObjectStoreError.permanent(store: displayName, detail: detail)
    }
}
