import CassnapCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A store in a local or NFS directory, for the demo and for operators who back up to a mount.
///
/// Objects live at `<root>/<key>`. Their size and SHA-256 are kept beside them in a parallel
/// tree, `<root>/.cassnap/meta/<key>.json`, so object names stay exactly the keys (readable with
/// `ls`) and no key can collide with a checksum file. Writes are atomic: copy to a temp file in
/// `<root>/.cassnap/tmp`, fsync, rename into place, fsync the directory.
package struct FileSystemObjectStore: ObjectStore {
    package let root: String
    package var displayName: String { "file://" + root }

    private var metaRoot: String { root + "/.cassnap/meta" }
    private var tmpRoot: String { root + "/.cassnap/tmp" }

    private struct Meta: Codable {
        var size: Int64
        var sha256: String
    }

    package init(root: String) throws {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        do {
            try FileManager.default.createDirectory(
                atPath: root + "/.cassnap/tmp", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                atPath: root + "/.cassnap/meta", withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError.localFile(
                path: root, reason: "cannot create the store directory: \(error)")
        }
    }

    private func checkKey(_ key: String) throws {
        try validateObjectKey(key)
        if key == ".cassnap" || key.hasPrefix(".cassnap/") {
            throw ObjectStoreError.invalidKey(
                key: key, reason: "'.cassnap/' is reserved for the store's own files")
        }
    }

    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try checkKey(key)
        let tmp = tmpRoot + "/" + UUID().uuidString
        let out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw localError(tmp, "cannot create temp file") }
        var committed = false
        defer {
            close(out)
            if !committed { unlink(tmp) }
        }
        let hasher = Hasher(.sha256)
        var size: Int64 = 0
        switch source.content {
        case .bytes(let bytes):
            source.throttle?(bytes.count)
            try bytes.withUnsafeBytes { try writeAll(out, $0, path: tmp) }
            hasher.update(bytes)
            size = Int64(bytes.count)
        case .file(let path, let offset, let length):
            size = try copyRange(
                from: path, offset: offset, length: length, to: out, tmpPath: tmp, hasher: hasher,
                throttle: source.throttle)
        }
        let sha = hasher.finalize().hexString
        if let expected = options.sha256, expected != sha {
            // The source changed while we read it: never store bytes the caller did not mean.
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: expected, actual: sha)
        }
        guard fsync(out) == 0 else { throw localError(tmp, "fsync failed") }

        let target = root + "/" + key
        try makeParents(of: target)
        try writeMeta(Meta(size: size, sha256: sha), key: key)
        guard rename(tmp, target) == 0 else { throw localError(target, "rename into place failed") }
        committed = true
        fsyncDirectory(of: target)
        return ObjectInfo(key: key, size: size, sha256: sha, lastModified: Date())
    }

    package func head(key: String) async throws -> ObjectInfo {
        try checkKey(key)
        var st = stat()
        guard stat(root + "/" + key, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw ObjectStoreError.notFound(store: displayName, key: key)
        }
        let meta = readMeta(key: key)
        let sha = meta?.size == Int64(st.st_size) ? meta?.sha256 : nil
        return ObjectInfo(
            key: key, size: Int64(st.st_size), sha256: sha,
            lastModified: Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec)))
    }

    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        let info = try await head(key: key)
        let tmp = localPath + ".cassnap-partial-" + UUID().uuidString
        let out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw localError(tmp, "cannot create download file") }
        var done = false
        defer {
            close(out)
            if !done { unlink(tmp) }
        }
        let hasher = Hasher(.sha256)
        let copied = try copyRange(
            from: root + "/" + key, offset: 0, length: nil, to: out, tmpPath: tmp, hasher: hasher,
            throttle: nil)
        let sha = hasher.finalize().hexString
        if let expected = info.sha256, expected != sha {
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: expected, actual: sha)
        }
        guard copied == info.size else {
            throw ObjectStoreError.transient(
                store: displayName, detail: "\(key) changed size while being read")
        }
        guard rename(tmp, localPath) == 0 else { throw localError(localPath, "rename into place failed") }
        done = true
        return ObjectInfo(key: key, size: copied, sha256: sha, lastModified: info.lastModified)
    }

    package func list(prefix: String) async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        // Walk only the directory that can hold the prefix, not the whole store.
        let slash = prefix.lastIndex(of: "/")
        let base = slash.map { String(prefix[..<$0]) } ?? ""
        if !base.isEmpty { try validateObjectKey(base) }
        walk(relative: base, prefix: prefix, into: &result)
        return result.sorted { $0.key < $1.key }
    }

    private func walk(relative: String, prefix: String, into result: inout [ObjectInfo]) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names {
            if relative.isEmpty && name == ".cassnap" { continue }
            let key = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard lstat(dir + "/" + name, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") {
                    walk(relative: key, prefix: prefix, into: &result)
                }
            } else if (st.st_mode & S_IFMT) == S_IFREG, key.hasPrefix(prefix),
                !name.contains(".cassnap-partial-")
            {
                let meta = readMeta(key: key)
                result.append(
                    ObjectInfo(
                        key: key, size: Int64(st.st_size),
                        sha256: meta?.size == Int64(st.st_size) ? meta?.sha256 : nil,
                        lastModified: Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec))))
            }
        }
    }

    package func delete(key: String) async throws {
        try checkKey(key)
        if unlink(root + "/" + key) != 0 && errno != ENOENT {
            throw localError(root + "/" + key, "delete failed")
        }
        unlink(metaRoot + "/" + key + ".json")
    }

    package func delete(keys: [String]) async throws { try await deleteEach(keys) }

    // MARK: - Helpers

    private func readMeta(key: String) -> Meta? {
        guard let data = FileManager.default.contents(atPath: metaRoot + "/" + key + ".json") else {
            return nil
        }
        return try? JSONDecoder().decode(Meta.self, from: data)
    }

    private func writeMeta(_ meta: Meta, key: String) throws {
        let path = metaRoot + "/" + key + ".json"
        try makeParents(of: path)
        do {
            try JSONEncoder().encode(meta).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ObjectStoreError.localFile(path: path, reason: "cannot write checksum: \(error)")
        }
    }

    private func makeParents(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError.localFile(path: parent, reason: "cannot create directory: \(error)")
        }
    }

    private func fsyncDirectory(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    private func localError(_ path: String, _ what: String) -> ObjectStoreError {
        .localFile(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw localError(path, "write failed")
            }
            done += n
        }
    }

    /// Copies a file range in 1 MiB chunks, hashing as it goes; memory stays flat.
    private func copyRange(
        from path: String, offset: Int64, length: Int64?, to out: Int32, tmpPath: String, hasher: Hasher,
        throttle: (@Sendable (Int) -> Void)?
    ) throws -> Int64 {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            if errno == ENOENT {
                throw ObjectStoreError.localFile(
                    path: path, reason: "no such file (it vanished before upload?)")
            }
            throw localError(path, "cannot open")
        }
        defer { close(input) }
        let chunk = Digest.fileBufferSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var position = offset
        var remaining = length ?? .max
        while remaining > 0 {
            let want = Int(min(Int64(chunk), remaining))
            let n = pread(input, buffer.baseAddress, want, off_t(position))
            if n < 0 {
                if errno == EINTR { continue }
                throw localError(path, "read failed")
            }
            if n == 0 { break }
            throttle?(n)
            let slice = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hasher.update(slice)
            try writeAll(out, slice, path: tmpPath)
            position += Int64(n)
            remaining -= Int64(n)
        }
        if let length, position - offset != length {
            throw ObjectStoreError.localFile(
                path: path,
                reason:
                    "shorter than expected: wanted \(length) bytes from offset \(offset), got \(position - offset)"
            )
        }
        return position - offset
    }
}
