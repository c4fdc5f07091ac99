import Foundation

/// What makes a file the same file: one upload per identity. Hard links share it; a rewritten
/// file (or a reused inode number) gets another size or mtime.
package struct FileIdentity: Sendable, Hashable, CustomStringConvertible {
    package var device: Int64
    package var inode: Int64
    package var size: Int64
    package var mtimeNanoseconds: Int64

    package var description: String { "\(device):\(inode):\(size):\(mtimeNanoseconds)" }

    /// lstat(2); nil when the path is gone or not a regular file.
    package static func of(path: String) -> FileIdentity? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileIdentity(
            device: Int64(bitPattern: UInt64(st.st_dev)), inode: Int64(bitPattern: UInt64(st.st_ino)),
            size: Int64(st.st_size),
            mtimeNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }
}
