import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Creates a file (and its directory) readable by the owner only, whatever the umask, or
/// tightens an existing one. SQLite gives its -wal and -shm files the main file's mode, so
/// preparing the main file is enough for a whole database.
enum OwnerOnlyFile {
    struct Failure: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "cannot create \(path) readable by its owner only: \(reason)" }
    }

    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        }
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else {
            throw Failure(path: path, reason: String(cString: strerror(errno)))
        }
        for suffix in ["-wal", "-shm"] { _ = chmod(path + suffix, 0o600) }
    }
}
