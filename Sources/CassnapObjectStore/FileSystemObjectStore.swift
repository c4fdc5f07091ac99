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
///
/// **Symlinks.** Every path below the root (objects, checksum files, temp files) is opened one
/// segment at a time without following links (`BeneathRoot`), so a link planted in the store
/// can never make it read, write or delete outside the root. `put`, `head`, `get` and `delete`
/// refuse a key whose path meets a symlink, at any segment, with the permanent
/// `ObjectStoreError.symlinkBelowRoot`; nothing is written or deleted. `list` skips symlinks:
/// a linked file is not reported, a linked directory is not entered, and a prefix whose
/// directory is reached through a link lists nothing. The root itself may be a link.
///
/// **Modes.** Objects and checksum files are 0640, directories the store creates 0750 (an
/// existing root is left as the operator made it), whatever the umask.
package struct FileSystemObjectStore: ObjectStore {
    package let root: String
    package var displayName: String { "file://" + root }

    private static let tmpDirectory = [".cassnap", "tmp"]
    private static let metaDirectory = [".cassnap", "meta"]
    private var beneath: BeneathRoot { BeneathRoot(root: root, store: displayName) }

    private struct Meta: Codable {
        var size: Int64
        var sha256: String
    }

    package init(root: String) throws {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        var st = stat()
        if stat(root, &st) != 0 {
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            } catch {
                throw ObjectStoreError.localFile(
                    path: root, reason: "cannot create the store directory: \(error)")
            }
            // Only the directory we made: an existing root's mode is the operator's choice.
            guard chmod(root, BeneathRoot.directoryMode) == 0 else {
                throw beneath.localError(root, "cannot set directory mode")
            }
        }
        for directory in [Self.tmpDirectory, Self.metaDirectory] {
            if let fd = try beneath.openDirectory(
                directory, key: directory.joined(separator: "/"), create: true)
            {
                close(fd)
            }
        }
    }

    private func checkKey(_ key: String) throws {
        try validateObjectKey(key)
        if key == ".cassnap" || key.hasPrefix(".cassnap/") {
            throw ObjectStoreError.invalidKey(
                key: key, reason: "'.cassnap/' is reserved for the store's own files")
        }
    }

    private func metaPath(_ key: String) -> String { ".cassnap/meta/" + key + ".json" }

    package func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        try checkKey(key)
        guard let tmpDir = try beneath.openDirectory(Self.tmpDirectory, key: key, create: true) else {
            throw ObjectStoreError.localFile(path: root + "/.cassnap/tmp", reason: "missing")
        }
        defer { close(tmpDir) }
        let tmpName = UUID().uuidString
        let tmp = root + "/.cassnap/tmp/" + tmpName
        let out = try beneath.createFile(tmpDir, tmpName, path: tmp)
        var committed = false
        defer {
            close(out)
            if !committed { unlinkat(tmpDir, tmpName, 0) }
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
            // The source is the caller's local file, outside the store: opened as given.
            let input = open(path, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else {
                if errno == ENOENT {
                    throw ObjectStoreError.localFile(
                        path: path, reason: "no such file (it vanished before upload?)")
                }
                throw beneath.localError(path, "cannot open")
            }
            defer { close(input) }
            size = try copyRange(
                from: input, path: path, offset: offset, length: length, to: out, tmpPath: tmp,
                hasher: hasher, throttle: source.throttle)
        }
        let sha = hasher.finalize().hexString
        if let expected = options.sha256, expected != sha {
            // The source changed while we read it: never store bytes the caller did not mean.
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: expected, actual: sha)
        }
        guard fsync(out) == 0 else { throw beneath.localError(tmp, "fsync failed") }

        try beneath.inParent(of: key, key: key, create: true) { dir, name, target in
            // renameat would replace a link, not write through it; refusing keeps one rule.
            try beneath.refuseSymlink(dir, name, path: target, key: key)
            // Only now, so that a refused key leaves no checksum file behind.
            try writeMeta(Meta(size: size, sha256: sha), key: key, tmpDir: tmpDir)
            guard renameat(tmpDir, tmpName, dir, name) == 0 else {
                throw beneath.localError(target, "rename into place failed")
            }
            committed = true
            fsync(dir)
        }
        return ObjectInfo(key: key, size: size, sha256: sha, lastModified: Date())
    }

    package func head(key: String) async throws -> ObjectInfo {
        try checkKey(key)
        let st = try beneath.inParent(of: key, key: key, create: false) { dir, name, path -> stat? in
            try beneath.refuseSymlink(dir, name, path: path, key: key)
            return beneath.status(dir, name)
        }
        guard let st = st ?? nil, (st.st_mode & S_IFMT) == S_IFREG else {
            throw ObjectStoreError.notFound(store: displayName, key: key)
        }
        return try info(key: key, st)
    }

    package func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try checkKey(key)
        let opened = try beneath.inParent(of: key, key: key, create: false) { dir, name, path in
            try beneath.openFile(dir, name, path: path, key: key)
        }
        guard let input = opened ?? nil else { throw ObjectStoreError.notFound(store: displayName, key: key) }
        defer { close(input) }
        var st = stat()
        guard fstat(input, &st) == 0 else { throw beneath.localError(root + "/" + key, "stat failed") }
        let info = try info(key: key, st)

        let tmp = localPath + ".cassnap-partial-" + UUID().uuidString
        let out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw beneath.localError(tmp, "cannot create download file") }
        var done = false
        defer {
            close(out)
            if !done { unlink(tmp) }
        }
        let hasher = Hasher(.sha256)
        let copied = try copyRange(
            from: input, path: root + "/" + key, offset: 0, length: nil, to: out, tmpPath: tmp,
            hasher: hasher, throttle: nil)
        let sha = hasher.finalize().hexString
        if let expected = info.sha256, expected != sha {
            throw ObjectStoreError.checksumMismatch(
                store: displayName, key: key, expected: expected, actual: sha)
        }
        guard copied == info.size else {
            throw ObjectStoreError.transient(
                store: displayName, detail: "\(key) changed size while being read")
        }
        guard rename(tmp, localPath) == 0 else {
            throw beneath.localError(localPath, "rename into place failed")
        }
        done = true
        return ObjectInfo(key: key, size: copied, sha256: sha, lastModified: info.lastModified)
    }

    package func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try checkKey(key)
        let opened = try beneath.inParent(of: key, key: key, create: false) { dir, name, path in
            try beneath.openFile(dir, name, path: path, key: key)
        }
        guard let input = opened ?? nil else { throw ObjectStoreError.notFound(store: displayName, key: key) }
        defer { close(input) }
        let sink = ReadSink(target)
        let chunk = Digest.fileBufferSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var position = target.range?.lowerBound ?? 0
        let end = target.range?.upperBound ?? .max
        while position < end {
            let n = pread(input, buffer.baseAddress, Int(min(Int64(chunk), end - position)), off_t(position))
            if n < 0 {
                if errno == EINTR { continue }
                throw beneath.localError(root + "/" + key, "read failed")
            }
            if n == 0 { break }
            guard sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else { break }
            position += Int64(n)
        }
        let read = try sink.finish(path: "the read target of \(key)")
        if let range = target.range, read.bytes != Int64(range.count) {
            throw ObjectStoreError.localFile(
                path: root + "/" + key,
                reason:
                    "asked for \(range.count) bytes from \(range.lowerBound), the object holds \(read.bytes)")
        }
        return read
    }

    /// Skips symlinks (see the type's comment) and the store's own `.cassnap/` files.
    package func list(prefix: String) async throws -> [ObjectInfo] {
        // Walk only the directory that can hold the prefix, not the whole store.
        let slash = prefix.lastIndex(of: "/")
        let base = slash.map { String(prefix[..<$0]) } ?? ""
        if !base.isEmpty { try validateObjectKey(base) }
        if base == ".cassnap" || base.hasPrefix(".cassnap/") { return [] }
        let segments = base.split(separator: "/").map(String.init)
        let directory: Int32?
        do {
            directory = try beneath.openDirectory(segments, key: prefix, create: false)
        } catch let error as ObjectStoreError {
            if case .symlinkBelowRoot = error { return [] }
            throw error
        }
        guard let directory else { return [] }
        let meta = try? beneath.openDirectory(Self.metaDirectory + segments, key: prefix, create: false)
        var result: [ObjectInfo] = []
        walk(directory, meta: meta, relative: base, prefix: prefix, into: &result)
        return result.sorted { $0.key < $1.key }
    }

    /// Lists the directory `fd` (closed here) and, in step, its checksum directory `meta`.
    private func walk(
        _ fd: Int32, meta: Int32?, relative: String, prefix: String, into result: inout [ObjectInfo]
    ) {
        defer { if let meta { close(meta) } }
        guard let stream = fdopendir(fd) else {
            close(fd)
            return
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." && !(relative.isEmpty && name == ".cassnap") { names.append(name) }
        }
        let dir = dirfd(stream)
        for name in names {
            let key = relative.isEmpty ? name : relative + "/" + name
            // lstat: a symlink is neither a file nor a directory here, so it is never reported or entered.
            guard let st = beneath.status(dir, name) else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                guard key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") else { continue }
                // A directory swapped for a link since the lstat fails O_NOFOLLOW and is skipped.
                guard let child = try? beneath.openChild(dir, name, path: name, key: key, create: false)
                else {
                    continue
                }
                let childMeta = meta.flatMap {
                    try? beneath.openChild($0, name, path: name, key: key, create: false)
                }
                walk(child, meta: childMeta, relative: key, prefix: prefix, into: &result)
            } else if (st.st_mode & S_IFMT) == S_IFREG, key.hasPrefix(prefix),
                !name.contains(".cassnap-partial-")
            {
                let sidecar = meta.flatMap { readMeta($0, name + ".json", key: key) }
                result.append(info(key: key, st, meta: sidecar))
            }
        }
    }

    package func delete(key: String) async throws {
        try checkKey(key)
        // The checksum tree first, so that a refused delete removes nothing.
        let deleted: Void? = try beneath.inParent(of: metaPath(key), key: key, create: false) {
            dir, name, path in
            try beneath.refuseSymlink(dir, name, path: path, key: key)
            try deleteObject(key)
            unlinkat(dir, name, 0)
        }
        if deleted == nil { try deleteObject(key) }
    }

    private func deleteObject(_ key: String) throws {
        try beneath.inParent(of: key, key: key, create: false) { dir, name, path in
            try beneath.refuseSymlink(dir, name, path: path, key: key)
            if unlinkat(dir, name, 0) != 0 && errno != ENOENT {
                throw beneath.localError(path, "delete failed")
            }
        }
    }

    package func delete(keys: [String]) async throws { try await deleteEach(keys) }

    // MARK: - Helpers

    private func info(key: String, _ st: stat) throws -> ObjectInfo {
        let meta = try beneath.inParent(of: metaPath(key), key: key, create: false) { dir, name, path in
            try beneath.refuseSymlink(dir, name, path: path, key: key)
            return readMeta(dir, name, key: key)
        }
        return info(key: key, st, meta: meta ?? nil)
    }

    /// The checksum counts only while it matches the size (an object replaced by hand loses it).
    private func info(key: String, _ st: stat, meta: Meta?) -> ObjectInfo {
        ObjectInfo(
            key: key, size: Int64(st.st_size), sha256: meta?.size == Int64(st.st_size) ? meta?.sha256 : nil,
            lastModified: Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec)))
    }

    private func readMeta(_ dir: Int32, _ name: String, key: String) -> Meta? {
        guard let fd = try? beneath.openFile(dir, name, path: name, key: key) else { return nil }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return try? JSONDecoder().decode(Meta.self, from: data)
    }

    /// Written through a temp file in `.cassnap/tmp` and renamed, like the object itself.
    private func writeMeta(_ meta: Meta, key: String, tmpDir: Int32) throws {
        let path = root + "/" + metaPath(key)
        let data: Data
        do { data = try JSONEncoder().encode(meta) } catch {
            throw ObjectStoreError.localFile(path: path, reason: "cannot encode checksum: \(error)")
        }
        let tmpName = UUID().uuidString + ".json"
        let tmp = root + "/.cassnap/tmp/" + tmpName
        let fd = try beneath.createFile(tmpDir, tmpName, path: tmp)
        var committed = false
        defer {
            close(fd)
            if !committed { unlinkat(tmpDir, tmpName, 0) }
        }
        try data.withUnsafeBytes { try writeAll(fd, $0, path: tmp) }
        try beneath.inParent(of: metaPath(key), key: key, create: true) { dir, name, path in
            try beneath.refuseSymlink(dir, name, path: path, key: key)
            guard renameat(tmpDir, tmpName, dir, name) == 0 else {
                throw beneath.localError(path, "cannot write checksum")
            }
            committed = true
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw beneath.localError(path, "write failed")
            }
            done += n
        }
    }

    /// Copies a range of `input` in 1 MiB chunks, hashing as it goes; memory stays flat.
    private func copyRange(
        from input: Int32, path: String, offset: Int64, length: Int64?, to out: Int32, tmpPath: String,
        hasher: Hasher, throttle: (@Sendable (Int) -> Void)?
    ) throws -> Int64 {
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
                throw beneath.localError(path, "read failed")
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
