import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One event as the kernel reports it, with the name parsed out of the record that follows the
/// 16-byte `struct inotify_event` header.
package struct InotifyEvent: Sendable, Equatable {
    package var wd: Int32
    package var mask: UInt32
    package var cookie: UInt32
    package var name: String
    /// The name's bytes are not UTF-8; `name` is an escaped stand-in (see `DirectoryListing`).
    package var hasInvalidName = false

    package func has(_ flag: Int32) -> Bool { mask & UInt32(bitPattern: flag) != 0 }
    package var isDirectory: Bool { has(IN_ISDIR) }
}

package enum InotifyError: Error, CustomStringConvertible, Equatable {
    /// `ENOSPC` from inotify_add_watch: the per-user watch limit is exhausted.
    case watchLimitReached(path: String)
    case addWatchFailed(path: String, errno: Int32)
    case initFailed(errno: Int32)
    case readFailed(errno: Int32)

    package var description: String {
        switch self {
        case .watchLimitReached(let path):
            "cannot watch \(path): the inotify watch limit is reached; raise fs.inotify.max_user_watches "
                + "(sysctl -w fs.inotify.max_user_watches=1048576); falling back to periodic scanning"
        case .addWatchFailed(let path, let e): "cannot watch \(path): \(String(cString: strerror(e)))"
        case .initFailed(let e): "inotify_init1 failed: \(String(cString: strerror(e)))"
        case .readFailed(let e): "reading inotify events failed: \(String(cString: strerror(e)))"
        }
    }
}

/// A thin owner of one inotify descriptor: add and remove watches, wait for and read events.
/// Not thread-safe; the watcher drives it from its one thread.
package final class InotifyEventSource {
    package let fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer

    /// Everything the watcher needs: creation (hard links raise only this), writes finishing,
    /// renames in and out, deletions, and the watched directory itself going away.
    package static let watchMask: UInt32 = {
        let flags: [Int32] = [
            IN_CREATE, IN_CLOSE_WRITE, IN_MOVED_TO, IN_MOVED_FROM, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF,
            IN_DONT_FOLLOW, IN_EXCL_UNLINK,
        ]
        return flags.reduce(0) { $0 | UInt32(bitPattern: $1) }
    }()

    package init() throws {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw InotifyError.initFailed(errno: errno) }
        self.fd = fd
        // Large enough for thousands of events per read during a snapshot storm.
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    package func addWatch(_ path: String) throws -> Int32 {
        let wd = inotify_add_watch(fd, path, InotifyEventSource.watchMask)
        if wd < 0 {
            if errno == ENOSPC { throw InotifyError.watchLimitReached(path: path) }
            throw InotifyError.addWatchFailed(path: path, errno: errno)
        }
        return wd
    }

    package func removeWatch(_ wd: Int32) { inotify_rm_watch(fd, wd) }

    /// Waits up to `timeout` for events; returns an empty array on timeout.
    package func read(timeout: Duration) throws -> [InotifyEvent] {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(
            timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        // A signal is retried, so that an empty answer always means "nothing queued".
        var ready: Int32
        repeat { ready = poll(&pfd, 1, ms) } while ready < 0 && errno == EINTR
        if ready < 0 { throw InotifyError.readFailed(errno: errno) }
        if ready == 0 { return [] }
        var events: [InotifyEvent] = []
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { break }
                throw InotifyError.readFailed(errno: errno)
            }
            if n == 0 { break }
            events.append(
                contentsOf: InotifyEventSource.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n])))
            if n < buffer.count / 2 { break }
        }
        return events
    }

    /// Parses a buffer of `struct inotify_event` records: wd (i32), mask (u32), cookie (u32),
    /// len (u32), then `len` bytes of NUL-padded name.
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        var offset = 0
        while offset + 16 <= bytes.count {
            let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let cookie = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let len = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + 16
            guard nameStart + len <= bytes.count else { break }
            var nameEnd = nameStart
            while nameEnd < nameStart + len && bytes[nameEnd] != 0 { nameEnd += 1 }
            let (name, valid) = DirectoryListing.decodeName(
                UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd]))
            events.append(
                InotifyEvent(wd: wd, mask: mask, cookie: cookie, name: name, hasInvalidName: !valid))
            offset = nameStart + len
        }
        return events
    }
}
