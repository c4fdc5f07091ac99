import CassnapCrypto
import Foundation

/// A store in memory, for tests of everything above the storage layer. It keeps the same
/// contract as the real stores (key validation, not-found errors, sorted complete listings).
package actor InMemoryObjectStore: ObjectStore {
    private var objects: [String: (bytes: [UInt8], sha256: String, modified: Date)] = [:]
    package nonisolated let displayName: String

    package init(name: String = "memory://test") { displayName = name }

    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try validateObjectKey(key)
        let bytes: [UInt8]
        switch source.content {
        case .bytes(let b): bytes = b
        case .file(let path, let offset, let length):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ObjectStoreError.localFile(path: path, reason: "cannot open")
            }
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            let data =
                try length.map { try handle.read(upToCount: Int($0)) ?? Data() } ?? handle.readToEnd()
                ?? Data()
            if let length, data.count != length {
                throw ObjectStoreError.localFile(
                    path: path, reason: "shorter than expected: wanted \(length) bytes")
            }
            bytes = Array(data)
        }
        source.throttle?(bytes.count)
        let sha = Digest.sha256(bytes).hexString
        if let expected = options.sha256, expected != sha {
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: expected, actual: sha)
        }
        let now = Date()
        objects[key] = (bytes, sha, now)
        return ObjectInfo(key: key, size: Int64(bytes.count), sha256: sha, lastModified: now)
    }

    package func head(key: String) async throws -> ObjectInfo {
        try validateObjectKey(key)
        guard let o = objects[key] else { throw ObjectStoreError.notFound(store: displayName, key: key) }
        return ObjectInfo(key: key, size: Int64(o.bytes.count), sha256: o.sha256, lastModified: o.modified)
    }

    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        let info = try await head(key: key)
        do {
            try Data(objects[key]!.bytes).write(to: URL(fileURLWithPath: localPath), options: .atomic)
        } catch {
            throw ObjectStoreError.localFile(path: localPath, reason: "cannot write: \(error)")
        }
        return info
    }

    package func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try validateObjectKey(key)
        guard let bytes = objects[key]?.bytes else {
            throw ObjectStoreError.notFound(store: displayName, key: key)
        }
        let lower = Int(target.range?.lowerBound ?? 0)
        let upper = Int(target.range?.upperBound ?? Int64(bytes.count))
        guard lower <= upper, upper <= bytes.count else {
            throw ObjectStoreError.transient(
                store: displayName, detail: "get \(key): range beyond the object")
        }
        let sink = ReadSink(target)
        _ = bytes[lower..<upper].withUnsafeBytes { sink.write($0) }
        return try sink.finish(path: key)
    }

    package func list(prefix: String) async throws -> [ObjectInfo] {
        objects.filter { $0.key.hasPrefix(prefix) }
            .map {
                ObjectInfo(
                    key: $0.key, size: Int64($0.value.bytes.count), sha256: $0.value.sha256,
                    lastModified: $0.value.modified)
            }
            .sorted { $0.key < $1.key }
    }

    package func delete(key: String) async throws {
        try validateObjectKey(key)
        objects[key] = nil
    }

    package func delete(keys: [String]) async throws {
        for key in keys { try validateObjectKey(key) }
        for key in keys { objects[key] = nil }
    }

    /// The raw bytes, for tests that need to check or corrupt them.
    package func bytes(of key: String) -> [UInt8]? { objects[key]?.bytes }
}
