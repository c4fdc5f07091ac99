import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Lowers `fs.inotify.max_queued_events` for tests that need the kernel's event queue to
/// overflow, and puts back exactly the value that was there before.
///
/// The value is global to the machine, so every change happens under an exclusive `flock` on
/// a fixed file in `/tmp`: suites in one test process (Swift Testing runs suites of different
/// targets in parallel) and test processes of other checkouts wait for each other, so a second
/// lowering can never save the first one's lowered value as "the original". Before lowering,
/// the original is written to a record file beside the lock; if a test process dies before it
/// restores, the next one to take the lock finds the record and restores that value first.
///
/// The kernel copies the limit into an inotify instance when `inotify_init1` creates it, so the
/// limit only needs to stay lowered until the watcher under test exists; `Lowering.restore()`
/// can be called as soon as it does, which keeps other tests running meanwhile on the normal
/// limit.
package enum InotifyLimits {
    package static let maxQueuedEventsPath = "/proc/sys/fs/inotify/max_queued_events"
    /// Fixed paths (not `$TMPDIR`): every process must agree on them.
    package static let lockPath = "/tmp/cassnap-inotify-limits.lock"
    package static let recordPath = "/tmp/cassnap-inotify-limits.original"

    /// Whether this process may write the sysctl (root and a writable `/proc/sys`).
    package static var canChangeMaxQueuedEvents: Bool { writeAccessError() == nil }

    /// Nil when the sysctl opens for writing, else why not.
    private static func writeAccessError() -> String? {
        let fd = Glibc.open(maxQueuedEventsPath, O_WRONLY | O_CLOEXEC)
        if fd < 0 { return String(cString: strerror(errno)) }
        close(fd)
        return nil
    }

    /// The condition for `.enabled(if:)`: runs where the sysctl is writable, and always under
    /// `CI=true`, where `lowerMaxQueuedEvents` then fails loudly instead of the test skipping.
    package static var overflowTestsEnabled: Bool { canChangeMaxQueuedEvents || TestServers.isCI }

    package static let skipReason =
        "needs write access to \(maxQueuedEventsPath) (root and a writable /proc/sys) to make the inotify queue overflow"

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
        init(_ description: String) { self.description = description }
    }

    package static func maxQueuedEvents() throws -> Int {
        try readInteger(maxQueuedEventsPath)
    }

    /// Holds the lock from lowering until `restore()`.
    package final class Lowering: Sendable {
        /// The value before lowering, restored by `restore()`.
        package let original: Int
        package let lowered: Int
        /// The sysctl lowered, and the record of its original value.
        package let path: String
        let record: String
        private let lockFD: Mutex<Int32?>

        fileprivate init(original: Int, lowered: Int, path: String, record: String, lockFD: Int32) {
            self.original = original
            self.lowered = lowered
            self.path = path
            self.record = record
            self.lockFD = Mutex(lockFD)
        }

        /// Writes the original value back, checks it, removes the record and releases the lock.
        /// Idempotent. When the write fails the record stays, so the next lowering repairs it.
        package func restore() throws {
            try lockFD.withLock { fd in
                guard let held = fd else { return }
                defer {
                    flock(held, LOCK_UN)
                    close(held)
                    fd = nil
                }
                try InotifyLimits.write(original, to: path)
                let now = try InotifyLimits.readInteger(path)
                guard now == original else {
                    throw Failure("\(path) reads \(now) after restoring \(original)")
                }
                unlink(record)
            }
        }

        deinit { try? restore() }
    }

    /// Takes the lock (waiting at most `lockTimeout` seconds), repairs a value left lowered by a
    /// test process that died, saves the current value and lowers it to `value`. The caller
    /// must `restore()`; prefer `withMaxQueuedEvents`, which always does.
    package static func lowerMaxQueuedEvents(to value: Int, lockTimeout: Double = 300) async throws
        -> Lowering
    {
        try await lower(maxQueuedEventsPath, record: recordPath, to: value, lockTimeout: lockTimeout)
    }

    package static let maxUserWatchesPath = "/proc/sys/fs/inotify/max_user_watches"
    package static let watchesRecordPath = "/tmp/cassnap-inotify-limits.max_user_watches.original"

    /// `fs.inotify.max_user_watches`, with the same lock and repair as `max_queued_events`. The
    /// limit counts every watch of this user on the machine, so keep it lowered briefly.
    package static func lowerMaxUserWatches(to value: Int, lockTimeout: Double = 300) async throws -> Lowering
    {
        try await lower(maxUserWatchesPath, record: watchesRecordPath, to: value, lockTimeout: lockTimeout)
    }

    /// Inotify watches held now by processes of this user (from `/proc/*/fdinfo`).
    package static func watchesOfThisUser() -> Int {
        let uid = getuid()
        var count = 0
        for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil
        {
            var st = stat()
            guard stat("/proc/\(pid)", &st) == 0, st.st_uid == uid,
                let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
            else { continue }
            for fd in fds
            where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"))
                == "anon_inode:inotify"
            {
                let info = (try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8)) ?? ""
                count += info.split(separator: "\n").filter { $0.hasPrefix("inotify wd:") }.count
            }
        }
        return count
    }

    private static func lower(_ path: String, record: String, to value: Int, lockTimeout: Double) async throws
        -> Lowering
    {
        precondition(value >= 0, "\(path) cannot be negative")
        if let reason = writeAccessError() {
            throw Failure(
                "cannot write \(path): \(reason); "
                    + (TestServers.isCI
                        ? "CI=true forbids skipping: run the tests as root with a writable /proc/sys"
                        : skipReason))
        }
        let fd = try await acquireLock(timeout: lockTimeout)
        do {
            if let stale = try? readInteger(record) {
                // A holder died between lowering and restoring: its record is the true original.
                try write(stale, to: path)
                unlink(record)
                FileHandle.standardError.write(
                    Data(
                        "InotifyLimits: restored \(path) to \(stale), left lowered by a test process that died\n"
                            .utf8))
            }
            let original = try readInteger(path)
            try writeRecord(original, to: record)
            do {
                try write(value, to: path)
            } catch {
                unlink(record)
                throw error
            }
            return Lowering(original: original, lowered: value, path: path, record: record, lockFD: fd)
        } catch {
            flock(fd, LOCK_UN)
            close(fd)
            throw error
        }
    }

    /// Lowers `max_queued_events` to `value` for `body` and restores the original afterwards,
    /// also when `body` throws. `body` may restore earlier (once its inotify instance exists).
    package static func withMaxQueuedEvents<T>(
        _ value: Int, lockTimeout: Double = 300, _ body: (Lowering) async throws -> T
    ) async throws -> T {
        try await withLowering(try await lowerMaxQueuedEvents(to: value, lockTimeout: lockTimeout), body)
    }

    /// Lowers `max_user_watches` to `value` for `body`, restoring it afterwards as
    /// `withMaxQueuedEvents` does.
    package static func withMaxUserWatches<T>(
        _ value: Int, lockTimeout: Double = 300, _ body: (Lowering) async throws -> T
    ) async throws -> T {
        try await withLowering(try await lowerMaxUserWatches(to: value, lockTimeout: lockTimeout), body)
    }

    /// Runs `body` and restores `lowering` afterwards, also when `body` throws; on success a
    /// failed restore fails the test, not just a log line.
    private static func withLowering<T>(_ lowering: Lowering, _ body: (Lowering) async throws -> T)
        async throws -> T
    {
        defer {
            do { try lowering.restore() } catch {
                FileHandle.standardError.write(Data("InotifyLimits: could not restore: \(error)\n".utf8))
            }
        }
        let result = try await body(lowering)
        try lowering.restore()
        return result
    }

    /// Whether an inotify instance of this process watches `path` (read from
    /// `/proc/self/fdinfo`): a way to learn that code under test has created its watcher, when
    /// it does not say so itself.
    package static func isWatchedByThisProcess(_ path: String) -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0 else { return false }
        let dev = UInt64(st.st_dev)
        // glibc's dev_t encoding → the kernel's (major << 20 | minor), which fdinfo prints.
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        let wanted =
            "ino:\(String(UInt64(st.st_ino), radix: 16)) sdev:\(String(major << 20 | minor, radix: 16)) "
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else {
            return false
        }
        for fd in fds {
            guard
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd))
                    == "anon_inode:inotify",
                let info = try? String(contentsOfFile: "/proc/self/fdinfo/" + fd, encoding: .utf8)
            else { continue }
            if info.split(separator: "\n").contains(where: {
                $0.hasPrefix("inotify wd:") && $0.contains(wanted)
            }) {
                return true
            }
        }
        return false
    }

    // MARK: files

    private static func acquireLock(timeout: Double) async throws -> Int32 {
        // Read-only is enough for flock, and works whoever created the file.
        let fd = Glibc.open(lockPath, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(timeout)
        var attempts = 0
        let maxAttempts = Int(timeout * 20) + 1
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return fd }
            let code = errno
            attempts += 1
            if code != EWOULDBLOCK && code != EINTR {
                close(fd)
                throw Failure("cannot lock \(lockPath): \(String(cString: strerror(code)))")
            }
            if Date() >= deadline || attempts >= maxAttempts {
                close(fd)
                throw Failure("\(lockPath) still locked by another test after \(Int(timeout)) s")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    fileprivate static func readInteger(_ path: String) throws -> Int {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Failure("cannot read \(path): \(error)")
        }
        guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Failure("\(path) holds no integer: \(text.debugDescription)")
        }
        return value
    }

    fileprivate static func write(_ value: Int, to path: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else {
            throw Failure("cannot open \(path) for writing: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let text = Array("\(value)\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == text.count else {
            throw Failure("cannot write \(value) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Written atomically (temporary file, then rename) so a crash never leaves half a number.
    private static func writeRecord(_ value: Int, to recordPath: String) throws {
        let temporary = recordPath + ".\(getpid())"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        let text = Array("\(value)\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.count, synced, rename(temporary, recordPath) == 0 else {
            unlink(temporary)
            throw Failure("cannot write \(recordPath): \(String(cString: strerror(errno)))")
        }
    }
}
