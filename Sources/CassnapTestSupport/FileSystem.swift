import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call on a path, with the `errno` it returned.
package struct FileSystemError: Error, CustomStringConvertible, Sendable {
    package var operation: String
    package var path: String
    package var code: Int32

    package var description: String {
        "\(operation) \(path): \(String(cString: strerror(code)))"
    }
}

/// Thin POSIX wrappers: the builder and the fake nodetool create tens of thousands of files and
/// links, and Foundation's `FileManager` is several times slower at that on Linux.
enum FS {
    struct Entry {
        var name: String
        var isDirectory: Bool
    }

    static func fail(_ operation: String, _ path: String, _ code: Int32 = errno) -> FileSystemError {
        FileSystemError(operation: operation, path: path, code: code)
    }

    /// `mkdir -p`.
    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) == 0 { return }
        let code = errno
        if code == EEXIST {
            if isDirectory(path) { return }
            throw fail("mkdir", path, code)
        }
        guard code == ENOENT else { throw fail("mkdir", path, code) }
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != path else { throw fail("mkdir", path, code) }
        try makeDirectory(parent)
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw fail("mkdir", path) }
    }

    /// `mkdir` that fails when the directory already exists.
    static func makeNewDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 { throw fail("mkdir", path) }
    }

    static func link(_ source: String, _ destination: String) throws {
        if Glibc.link(source, destination) != 0 { throw fail("link", destination) }
    }

    static func unlink(_ path: String) throws {
        if Glibc.unlink(path) != 0 { throw fail("unlink", path) }
    }

    static func open(_ path: String, _ flags: Int32) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
        if fd < 0 { throw fail("open", path) }
        return fd
    }

    static func write(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("write", path)
            }
            offset += n
        }
    }

    static func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer, exclusive: Bool = false) throws {
        let fd = try open(path, O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC))
        defer { close(fd) }
        try write(fd: fd, bytes, path: path)
    }

    static func writeFile(_ path: String, _ text: String, exclusive: Bool = false) throws {
        var text = text
        try text.withUTF8 { try writeFile(path, UnsafeRawBufferPointer($0), exclusive: exclusive) }
    }

    static func append(_ path: String, _ text: String) throws {
        let fd = try open(path, O_WRONLY | O_APPEND)
        defer { close(fd) }
        var text = text
        try text.withUTF8 { try write(fd: fd, UnsafeRawBufferPointer($0), path: path) }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read", path)
            }
            if n == 0 { return result }
            result.append(contentsOf: buffer[0..<n])
        }
    }

    static func readText(_ path: String) throws -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// Directory entries without `.` and `..`, unsorted.
    static func list(_ path: String) throws -> [Entry] {
        guard let dir = opendir(path) else { throw fail("opendir", path) }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let type = entry.pointee.d_type
            let isDirectory =
                type == UInt8(DT_UNKNOWN) ? FS.isDirectory(path + "/" + name) : type == UInt8(DT_DIR)
            entries.append(Entry(name: name, isDirectory: isDirectory))
        }
        return entries
    }

    static func status(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        guard let st = status(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        guard let st = status(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFREG
    }

    static func size(_ path: String) -> Int {
        status(path).map { Int($0.st_size) } ?? 0
    }

    /// `rm -rf`; a missing path is not an error.
    static func removeTree(_ path: String) throws {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return }
            throw fail("lstat", path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for entry in try list(path) { try removeTree(path + "/" + entry.name) }
            if rmdir(path) != 0 && errno != ENOENT { throw fail("rmdir", path) }
        } else if Glibc.unlink(path) != 0 && errno != ENOENT {
            throw fail("unlink", path)
        }
    }

    static func sleep(milliseconds: Int) {
        guard milliseconds > 0 else { return }
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// An exclusive `flock` on a set of directories, taken in path order so two holders never
/// deadlock. The fake nodetool's snapshot and flush share it, as Cassandra's tracker lock makes
/// a snapshot see an SSTable either whole (committed) or not at all.
enum DirectoryLock {
    static func with<T>(_ paths: [String], _ body: () throws -> T) throws -> T {
        var descriptors: [Int32] = []
        defer {
            for fd in descriptors.reversed() {
                _ = flock(fd, LOCK_UN)
                close(fd)
            }
        }
        for path in Set(paths).sorted() {
            let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd < 0 { throw FS.fail("open", path) }
            descriptors.append(fd)
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { throw FS.fail("flock", path) }
            }
        }
        return try body()
    }
}
