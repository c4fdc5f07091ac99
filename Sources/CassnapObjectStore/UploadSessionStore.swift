import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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
///
/// A GCS resumable session URL lets whoever holds it write the object without credentials, so
/// the directory is created 0700 and each file 0600, whatever the umask (an existing directory
/// is left as it is: it may be one the operator shares with other files).
package struct DirectoryUploadSessionStore: UploadSessionStore {
    private struct Entry: Codable {
        var key: String
        var fingerprint: String
        var session: String
    }

    package let directory: String

    package init(directory: String) throws {
        self.directory = directory
        var st = stat()
        guard stat(directory, &st) != 0 else { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError.localFile(path: directory, reason: "cannot create directory: \(error)")
        }
        guard chmod(directory, 0o700) == 0 else {
            throw ObjectStoreError.localFile(
                path: directory, reason: "cannot set mode 0700: \(String(cString: strerror(errno)))")
        }
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
        let target = path(for: key)
        let tmp = target + ".tmp-" + UUID().uuidString
        func fail(_ path: String, _ what: String) -> ObjectStoreError {
            .localFile(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        // Not Data.write(.atomic): its temp file gets 0666 minus the umask before any chmod.
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw fail(tmp, "cannot create upload session file") }
        var committed = false
        defer {
            close(fd)
            if !committed { unlink(tmp) }
        }
        guard fchmod(fd, 0o600) == 0 else { throw fail(tmp, "cannot set mode 0600") }
        var written = 0
        while written < data.count {
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + written, data.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fail(tmp, "write failed") }
            written += n
        }
        guard rename(tmp, target) == 0 else { throw fail(target, "cannot save upload session") }
        committed = true
    }

    package func remove(key: String) throws {
        try? FileManager.default.removeItem(atPath: path(for: key))
    }
}
