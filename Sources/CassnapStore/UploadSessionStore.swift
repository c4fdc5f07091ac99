import Foundation

/// Remembers multipart (S3) and resumable (GCS) uploads in progress, so that an upload
/// interrupted by a crash or `kill -9` continues where it stopped instead of starting over.
/// `fingerprint` identifies the content (size, mtime, inode, part size): a session is only
/// resumed for the same bytes.
package protocol UploadSessionStore: Sendable {
    func session(key: String, fingerprint: String) async throws -> String?
    func save(session: String, key: String, fingerprint: String) async throws
    func remove(key: String) async throws
}

package actor InMemoryUploadSessionStore: UploadSessionStore {
    private var sessions: [String: (fingerprint: String, session: String)] = [:]

    package init() {}

    package func session(key: String, fingerprint: String) -> String? {
        guard let entry = sessions[key], entry.fingerprint == fingerprint else { return nil }
        return entry.session
    }

    package func save(session: String, key: String, fingerprint: String) {
        sessions[key] = (fingerprint, session)
    }

    package func remove(key: String) { sessions[key] = nil }
}

/// Sessions as small JSON files in a directory, for stand-alone use and tests that kill the
/// uploading process. The agent keeps its own in SQLite.
package struct DirectoryUploadSessionStore: UploadSessionStore {
    private struct Entry: Codable {
        var key: String
        var fingerprint: String
        var session: String
    }

    package let directory: String

    package init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    private func path(for key: String) -> String {
        // Keys contain '/', so file names are a digest of the key.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return directory + "/" + String(hash, radix: 16) + ".json"
    }

    package func session(key: String, fingerprint: String) throws -> String? {
        guard let data = FileManager.default.contents(atPath: path(for: key)),
            let entry = try? JSONDecoder().decode(Entry.self, from: data),
            entry.key == key, entry.fingerprint == fingerprint
        else { return nil }
        return entry.session
    }

    package func save(session: String, key: String, fingerprint: String) throws {
        let data = try JSONEncoder().encode(Entry(key: key, fingerprint: fingerprint, session: session))
        try data.write(to: URL(fileURLWithPath: path(for: key)), options: .atomic)
    }

    package func remove(key: String) throws {
        try? FileManager.default.removeItem(atPath: path(for: key))
    }
}
