import CassnapObjectStore
import Foundation

/// The fields of a JSON API object resource cassnap reads.
struct GCSObjectResource: Decodable, Sendable {
    var name: String
    var size: String?
    var md5Hash: String?
    var crc32c: String?
    var generation: String?
    var updated: String?
    var metadata: [String: String]?

    static let sha256MetadataKey = "cassnap-sha256"
    static let sizeMetadataKey = "cassnap-size"

    static func decode(_ body: [UInt8]) throws -> GCSObjectResource {
        try JSONDecoder().decode(GCSObjectResource.self, from: Data(body))
    }

    var byteCount: Int64 { size.flatMap { Int64($0) } ?? 0 }
    var sha256: String? { metadata?[GCSObjectResource.sha256MetadataKey] }

    var lastModified: Date? {
        guard let updated else { return nil }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(updated) {
            return date
        }
        return try? Date.ISO8601FormatStyle().parse(updated)
    }

    func info(key: String) -> ObjectInfo {
        ObjectInfo(key: key, size: byteCount, sha256: sha256, lastModified: lastModified)
    }
}

/// One page of `objects.list`.
struct GCSObjectList: Decodable {
    var items: [GCSObjectResource]?
    var nextPageToken: String?
}

/// `{"error": {"code": 404, "message": "..."}}`, the JSON API's error body.
struct GCSErrorBody: Decodable {
    struct Inner: Decodable {
        var code: Int?
        var message: String?
    }
    var error: Inner

    /// The API's message, or a short excerpt of whatever else the server said.
    static func message(_ body: [UInt8]) -> String {
        if let parsed = try? JSONDecoder().decode(GCSErrorBody.self, from: Data(body)),
            let message = parsed.error.message
        {
            return String(message.prefix(500))
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(
            in: .whitespacesAndNewlines)
        return text.isEmpty ? "no details" : text
    }
}
