import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Paths below a file store's root, opened one segment at a time from a directory fd with
/// `O_NOFOLLOW`, so that no symlink below the root is ever followed: a link planted in the store
/// cannot make it read, write or delete anything outside the root. The final open, unlink or
/// rename is done relative to the parent's fd, so a link swapped in after a check is not
/// followed either. The root path itself is opened normally: an operator may configure a link.
///
/// (Portable `openat` + `O_NOFOLLOW` rather than Linux's `openat2(RESOLVE_BENEATH)`, which has
/// no Glibc wrapper and needs a kernel from 2020.)
///
/// Directories it creates get 0750 and files 0640, set again with `fchmod` after creation so
/// that the process umask can neither widen nor narrow them: backups hold every row of the
/// cluster and must not be world-readable.
struct BeneathRoot: Sendable {
    static let directoryMode: mode_t = 0o750
    static let fileMode: mode_t = 0o640

    let root: String
    /// The store's display name, for errors.
    let store: String

    /// Runs `body` with an fd of the directory that holds the last segment of `relative` (a
    /// validated key-like path), that segment's name and its full path. Answers nil without
    /// calling `body` when a directory on the way is missing, unless `create` makes it.
    /// Throws `symlinkBelowRoot`, naming `key`, when a segment on the way is a symlink.
    func inParent<T>(
        of relative: String, key: String, create: Bool,
        _ body: (_ directory: Int32, _ name: String, _ path: String) throws -> T
    ) throws -> T? {
        var segments = relative.split(separator: "/").map(String.init)
        let name = segments.removeLast()
        guard let directory = try openDirectory(segments, key: key, create: create) else { return nil }
        defer { close(directory) }
        return try body(directory, name, root + "/" + relative)
    }

    /// Opens the directory at `segments` below the root (the root itself when empty); nil when
    /// one is missing or not a directory and `create` is false. The caller closes the fd.
    func openDirectory(_ segments: [String], key: String, create: Bool) throws -> Int32? {
        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT && !create { return nil }
            throw localError(root, "cannot open the store directory")
        }
        var path = root
        for segment in segments {
            let parent = fd
            defer { close(parent) }
            path += "/" + segment
            guard let child = try openChild(parent, segment, path: path, key: key, create: create) else {
                return nil
            }
            fd = child
        }
        return fd
    }

    /// One step down: the directory `name` in `parent`, never through a symlink.
    func openChild(_ parent: Int32, _ name: String, path: String, key: String, create: Bool) throws -> Int32?
    {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = openat(parent, name, flags)
        if fd < 0 && errno == ENOENT && create {
            let made = mkdirat(parent, name, Self.directoryMode) == 0
            if !made && errno != EEXIST { throw localError(path, "cannot create directory") }
            fd = openat(parent, name, flags)
            if made && fd >= 0 && fchmod(fd, Self.directoryMode) != 0 {
                let error = localError(path, "cannot set directory mode")
                close(fd)
                throw error
            }
        }
        if fd >= 0 { return fd }
        let openErrno = errno
        // O_DIRECTORY|O_NOFOLLOW on a link fails with ENOTDIR (not ELOOP): ask what it is.
        try refuseSymlink(parent, name, path: path, key: key)
        if !create && (openErrno == ENOENT || openErrno == ENOTDIR) { return nil }
        errno = openErrno
        throw localError(path, create ? "cannot create directory" : "cannot open directory")
    }

    /// Opens the regular file `name` in `directory` for reading; nil when it is missing or not
    /// a regular file. `O_NONBLOCK` so that a FIFO planted at a key cannot hang the store.
    func openFile(_ directory: Int32, _ name: String, path: String, key: String) throws -> Int32? {
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let openErrno = errno
            try refuseSymlink(directory, name, path: path, key: key)
            if openErrno == ENOENT || openErrno == ENOTDIR { return nil }
            errno = openErrno
            throw localError(path, "cannot open")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Creates a new file (0640, whatever the umask) for writing; the caller closes the fd.
    func createFile(_ directory: Int32, _ name: String, path: String) throws -> Int32 {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, Self.fileMode)
        guard fd >= 0 else { throw localError(path, "cannot create file") }
        guard fchmod(fd, Self.fileMode) == 0 else {
            let error = localError(path, "cannot set file mode")
            close(fd)
            unlinkat(directory, name, 0)
            throw error
        }
        return fd
    }

    /// `lstat` relative to `directory`: nil when the entry does not exist.
    func status(_ directory: Int32, _ name: String) -> stat? {
        var st = stat()
        return fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st : nil
    }

    /// Throws `symlinkBelowRoot` when `name` in `directory` is a symlink.
    func refuseSymlink(_ directory: Int32, _ name: String, path: String, key: String) throws {
        if let st = status(directory, name), (st.st_mode & S_IFMT) == S_IFLNK {
            throw ObjectStoreError.symlinkBelowRoot(store: store, key: key, path: path)
        }
    }

    func localError(_ path: String, _ what: String) -> ObjectStoreError {
        .localFile(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
}
