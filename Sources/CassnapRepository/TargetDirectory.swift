import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one place restore touches the target's directories: every existing component on the way
/// to a file must be a real directory (never a symlink, which could point anywhere), and the
/// ones restore creates are 0750.
struct TargetDirectory: Sendable {
    /// Absolute, without a trailing "/".
    let root: String

    /// Refuses a target that goes through a symlink anywhere on its absolute path.
    init(_ path: String) throws {
        let absolute =
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var components = absolute.split(separator: "/").map(String.init)
        components.removeAll { $0 == "." }
        guard !components.contains("..") else {
            throw RepositoryError.unsafeTarget(path: path, detail: "give the target without \"..\"")
        }
        root = "/" + components.joined(separator: "/")
        var walked = ""
        for component in components {
            walked += "/" + component
            switch Self.kind(walked) {
            case .symlink:
                throw RepositoryError.unsafeTarget(path: path, detail: "\(walked) is a symbolic link")
            case .other:
                throw RepositoryError.unsafeTarget(path: path, detail: "\(walked) is not a directory")
            case .directory, .missing, .file:
                break
            }
        }
        if Self.kind(root) == .file {
            throw RepositoryError.unsafeTarget(path: path, detail: "\(root) is a file, not a directory")
        }
    }

    enum Kind: Equatable { case missing, directory, file, symlink, other }

    static func kind(_ path: String) -> Kind {
        var st = stat()
        guard lstat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    /// Checks, without writing, that `relative` (validated by `RestorePath`) can be a regular
    /// file under the root: no symlink or non-directory on its way, and no symlink or directory
    /// in its place.
    func check(_ relative: String) throws {
        let segments = relative.split(separator: "/")
        var path = root
        for (i, segment) in segments.enumerated() {
            path += "/" + segment
            let kind = Self.kind(path)
            let last = i == segments.count - 1
            switch kind {
            case .missing: return
            case .symlink:
                throw RepositoryError.unsafeTarget(path: root, detail: "\(path) is a symbolic link")
            case .directory where last, .file where !last, .other:
                throw RepositoryError.unsafeTarget(
                    path: root, detail: "\(path) is in the way of a restored \(last ? "file" : "directory")")
            case .directory, .file: continue
            }
        }
    }

    /// Creates the directories of `relative`'s parent (0750), refusing a symlink met on the way.
    func createParents(of relative: String) throws -> String {
        var path = root
        if Self.kind(root) == .missing { try make(root) }
        for segment in relative.split(separator: "/").dropLast() {
            path += "/" + segment
            switch Self.kind(path) {
            case .directory: continue
            case .missing: try make(path)
            default:
                throw RepositoryError.unsafeTarget(path: root, detail: "\(path) is not a directory")
            }
        }
        return path
    }

    private func make(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw RepositoryError.unsafeTarget(
                path: path, detail: "cannot create: \(error.localizedDescription)")
        }
    }

    /// What an unprivileged writer may still use on the target's file system.
    struct Space {
        var freeBytes: Int64
        /// The allocation unit: a file of 100 bytes takes a whole one.
        var blockSize: Int64
        var freeInodes: Int64

        /// What `files` take on disk, each rounded up to whole blocks.
        func bytesOnDisk(_ sizes: [Int64]) -> Int64 {
            let block = max(blockSize, 1)
            return sizes.reduce(0) { $0 + ($1 + block - 1) / block * block }
        }
    }

    func space() -> Space? {
        var path = root
        while Self.kind(path) == .missing, path != "/" { path = (path as NSString).deletingLastPathComponent }
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return nil }
        return Space(
            freeBytes: Int64(fs.f_bavail) * Int64(fs.f_frsize), blockSize: Int64(fs.f_frsize),
            freeInodes: Int64(fs.f_favail))
    }
}
