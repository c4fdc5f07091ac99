import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One entry of a directory as readdir(2) reports it, typed without following symbolic links.
package struct DirectoryEntry: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        case directory
        case regularFile
        /// A symbolic link, FIFO, socket or device, described for a log line ("a FIFO").
        case other(String)
    }

    package var path: String
    package var kind: Kind
    /// The name is not UTF-8: `path` shows its bytes escaped (`\xFF`) and opens nothing.
    package var hasInvalidName: Bool
}

/// Why the watcher reports an entry as skipped instead of as a file or a directory.
package enum SkipReason: Sendable, Hashable, CustomStringConvertible {
    case notARegularFile(String)
    case nameNotUTF8

    package var description: String {
        switch self {
        case .notARegularFile(let kind): "\(kind), not a regular file"
        case .nameNotUTF8: "the name is not valid UTF-8"
        }
    }
}

/// Directory listing shared by the watcher and the agent's scans, so both see the same entries
/// and skip the same ones for the same reasons.
package enum DirectoryListing {
    /// The entries of `directory` without "." and ".."; nil when it cannot be opened.
    package static func entries(of directory: String) -> [DirectoryEntry]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var result: [DirectoryEntry] = []
        while let entry = readdir(dir) {
            let (name, valid) = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                decodeName(raw.prefix(while: { $0 != 0 }))
            }
            if name == "." || name == ".." { continue }
            let path = directory + "/" + name
            let kind: DirectoryEntry.Kind
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_REG): kind = .regularFile
            case Int32(DT_UNKNOWN):  // some file systems (XFS without ftype) leave it unset
                if !valid {
                    kind = .other("an entry of unknown type")  // reported for its name anyway
                } else {
                    guard let found = self.kind(ofPath: path) else { continue }
                    kind = found
                }
            case let type: kind = .other(describe(type: type))
            }
            result.append(DirectoryEntry(path: path, kind: kind, hasInvalidName: !valid))
        }
        return result
    }

    /// lstat(2)'s view of `path`; nil when it is gone.
    package static func kind(ofPath path: String) -> DirectoryEntry.Kind? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regularFile
        case S_IFLNK: return .other("a symbolic link")
        case S_IFIFO: return .other("a FIFO")
        case S_IFSOCK: return .other("a socket")
        case S_IFCHR: return .other("a character device")
        case S_IFBLK: return .other("a block device")
        default: return .other("an entry of unknown type")
        }
    }

    private static func describe(type: Int32) -> String {
        switch type {
        case Int32(DT_LNK): "a symbolic link"
        case Int32(DT_FIFO): "a FIFO"
        case Int32(DT_SOCK): "a socket"
        case Int32(DT_CHR): "a character device"
        case Int32(DT_BLK): "a block device"
        default: "an entry of unknown type"
        }
    }

    /// A file name's bytes as a String; when they are not UTF-8, a readable stand-in with
    /// every byte outside printable ASCII escaped as `\xNN`, and `false`.
    package static func decodeName(_ bytes: some Collection<UInt8>) -> (name: String, valid: Bool) {
        if let name = String(validating: bytes, as: UTF8.self) { return (name, true) }
        var escaped = ""
        for byte in bytes {
            if (0x20..<0x7F).contains(byte) && byte != UInt8(ascii: "\\") {
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                escaped += "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return (escaped, false)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
