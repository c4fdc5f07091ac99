import CassnapHTTP
import CassnapObjectStore
import Foundation

extension GCSObjectStore {
    /// Deletes through the JSON API batch endpoint (`POST /batch/storage/v1`, multipart/mixed,
    /// up to 100 calls per request). fake-gcs-server 1.54 implements it too. A server without
    /// that endpoint (404, 405, 501, or an answer that is not multipart) gets parallel single
    /// deletes instead, so `delete(keys:)` works against any emulator.
    package func delete(keys: [String]) async throws {
        for key in keys { try validateObjectKey(key) }
        var start = 0
        let size = min(100, max(1, configuration.batchSize))
        while start < keys.count {
            let batch = Array(keys[start..<min(start + size, keys.count)])
            if try await !batchDelete(batch) {
                try await parallelDelete(batch)
            }
            start += size
        }
    }

    /// Returns false when the server has no batch endpoint.
    private func batchDelete(_ keys: [String]) async throws -> Bool {
        let boundary = "cassnap-batch-" + UUID().uuidString
        var body = ""
        for (index, key) in keys.enumerated() {
            body += "--\(boundary)\r\nContent-Type: application/http\r\nContent-ID: <\(index)>\r\n\r\n"
            body += "DELETE \(objectPath(key)) HTTP/1.1\r\n\r\n\r\n"
        }
        body += "--\(boundary)--\r\n"
        let response = try await send(
            HTTPRequest(
                method: "POST", url: url("/batch/storage/v1"),
                headers: [("Content-Type", "multipart/mixed; boundary=\(boundary)")],
                body: .bytes(Array(body.utf8))))
        guard response.status == 200 else {
            if [400, 404, 405, 501].contains(response.status) { return false }
            throw await failure(response, key: nil)
        }
        guard let contentType = response.header("Content-Type"),
            contentType.lowercased().hasPrefix("multipart/"),
            let responseBoundary = GCSObjectStore.boundary(contentType)
        else { return false }

        var sawNotFound = false
        for (index, part) in GCSObjectStore.batchParts(response.body, boundary: responseBoundary).enumerated()
        {
            let key = keys[min(part.contentID ?? index, keys.count - 1)]
            switch part.status {
            case 200..<300: continue
            case 404: sawNotFound = true
            default:
                throw await failure(status: part.status, body: part.body, key: key)
            }
        }
        // A missing object is fine; a missing bucket is not. One check covers the whole batch.
        if sawNotFound, let key = keys.first {
            if case .noSuchBucket = await failure(status: 404, body: [], key: key) {
                throw ObjectStoreError.noSuchBucket(store: displayName, bucket: configuration.bucket)
            }
        }
        return true
    }

    private func parallelDelete(_ keys: [String]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func addNext() {
                guard next < keys.count else { return }
                let key = keys[next]
                next += 1
                group.addTask { try await self.deleteObject(key: key, generation: nil) }
            }
            for _ in 0..<8 { addNext() }
            while try await group.next() != nil { addNext() }
        }
    }

    struct BatchPart {
        var contentID: Int?
        var status: Int
        var body: [UInt8]
    }

    static func boundary(_ contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.trimmingCharacters(in: .whitespaces)
            if pair.lowercased().hasPrefix("boundary=") {
                return String(pair.dropFirst("boundary=".count)).trimmingCharacters(
                    in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// Splits a multipart/mixed batch answer into its embedded HTTP responses.
    static func batchParts(_ body: [UInt8], boundary: String) -> [BatchPart] {
        let text = String(decoding: body, as: UTF8.self)
        var parts: [BatchPart] = []
        for segment in text.components(separatedBy: "--" + boundary).dropFirst() {
            if segment.hasPrefix("--") { break }
            guard let statusRange = segment.range(of: "HTTP/") else { continue }
            let mimeHeaders = segment[..<statusRange.lowerBound]
            let rest = segment[statusRange.lowerBound...]
            let statusLine = rest.prefix { $0 != "\r" && $0 != "\n" }
            let fields = statusLine.split(separator: " ")
            guard fields.count >= 2, let status = Int(fields[1]) else { continue }
            var contentID: Int?
            for line in mimeHeaders.components(separatedBy: "\r\n")
            where line.lowercased().hasPrefix("content-id:") {
                let value = line.dropFirst("content-id:".count).trimmingCharacters(in: .whitespaces)
                let digits = value.reversed().drop { !$0.isNumber }.prefix { $0.isNumber }
                contentID = Int(String(digits.reversed()))
            }
            var partBody: [UInt8] = []
            if let blank = rest.range(of: "\r\n\r\n") {
                partBody = Array(rest[blank.upperBound...].utf8)
            }
            parts.append(BatchPart(contentID: contentID, status: status, body: partBody))
        }
        return parts
    }
}
