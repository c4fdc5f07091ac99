import CassnapStore
import Foundation

/// Why a small object was not read.
struct ObjectTooLarge: Error, CustomStringConvertible {
    var key: String
    var size: Int64
    var limit: Int64
    var description: String { "\(key) is \(size) bytes, more than the limit of \(limit)" }
}

extension ObjectStore {
    /// A small object's bytes (a manifest, a record), through a temporary file because the
    /// store API streams to files. The size is checked before and after the download, so a
    /// huge object never reaches memory: `ObjectTooLarge` instead.
    func readSmallObject(key: String, limit: Int64) async throws -> Data {
        let size = try await head(key: key).size
        guard size <= limit else { throw ObjectTooLarge(key: key, size: size, limit: limit) }
        let path = NSTemporaryDirectory() + "/cassnap-coordinator-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let got = try await get(key: key, to: path).size
        guard got <= limit else { throw ObjectTooLarge(key: key, size: got, limit: limit) }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }
}
