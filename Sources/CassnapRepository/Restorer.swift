import CassnapCore
import CassnapCrypto
import CassnapStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Downloads restore plans into a target directory: checks everything before writing anything
/// (names, symlinks on the way, free space), then downloads in parallel, each file into a
/// staging name beside its final one, checked against the manifest's size and SHA-256, and only
/// then renamed into place (the store has already fsynced it; the directory is fsynced after).
/// A rerun skips every file already in place with the right size and SHA-256, so a restore
/// killed at any point resumes. Memory does not grow with file sizes: stores stream to files.
package struct Restorer: Sendable {
    package let repository: Repository
    /// Downloads at once.
    package var concurrency: Int

    package init(repository: Repository, concurrency: Int = 4) {
        self.repository = repository
        self.concurrency = max(1, concurrency)
    }

    package struct Progress: Sendable {
        package var files = 0
        package var totalFiles = 0
        package var bytes: Int64 = 0
        package var totalBytes: Int64 = 0
        package var startedAt = Date()
    }

    package struct Failure: Sendable, Hashable {
        package var path: String
        package var objectKey: String
        package var reason: String
    }

    package struct Outcome: Sendable {
        package var downloadedFiles = 0
        package var downloadedBytes: Int64 = 0
        /// Already in place with the right size and SHA-256.
        package var skippedFiles = 0
        package var skippedBytes: Int64 = 0
        package var failures: [Failure] = []
        package var seconds: Double = 0
    }

    /// Restores `plans` under `target`. Throws before writing anything when the target or a
    /// plan cannot be used; per-file failures (a corrupt or missing object) are in the outcome,
    /// and every other file is still restored.
    package func restore(
        _ plans: [RestorePlan], into target: String,
        onProgress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) async throws -> Outcome {
        let started = Date()
        let directory = try TargetDirectory(target)
        let entries = plans.flatMap(\.entries)
        // Checks first, so that a refusal leaves the target as it was.
        var needed: Int64 = 0
        var pending: [RestorePlan.Entry] = []
        var outcome = Outcome()
        for entry in entries {
            try directory.check(entry.path)
            if try Self.isInPlace(entry, under: directory.root) {
                outcome.skippedFiles += 1
                outcome.skippedBytes += entry.file.size
            } else {
                needed += entry.file.size
                pending.append(entry)
            }
        }
        if let free = directory.freeBytes(), free < needed {
            throw RepositoryError.unsafeTarget(
                path: directory.root,
                detail: "it needs \(needed) bytes for \(pending.count) files, and \(free) bytes are free")
        }

        var progress = Progress(
            files: outcome.skippedFiles, totalFiles: entries.count, bytes: outcome.skippedBytes,
            totalBytes: entries.reduce(0) { $0 + $1.file.size }, startedAt: started)
        onProgress(progress)
        let store = repository.store
        try await withThrowingTaskGroup(of: (RestorePlan.Entry, String?).self) { group in
            var next = pending.makeIterator()
            func startOne() -> Bool {
                guard let entry = next.next() else { return false }
                group.addTask { (entry, try await Self.download(entry, under: directory, from: store)) }
                return true
            }
            for _ in 0..<concurrency where !startOne() { break }
            while let (entry, failure) = try await group.next() {
                if let failure {
                    outcome.failures.append(
                        Failure(path: entry.path, objectKey: entry.file.objectKey, reason: failure))
                } else {
                    outcome.downloadedFiles += 1
                    outcome.downloadedBytes += entry.file.size
                    progress.bytes += entry.file.size
                }
                progress.files += 1
                onProgress(progress)
                _ = startOne()
            }
        }
        outcome.failures.sort { $0.path < $1.path }
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }

    /// True when the final file exists with the manifest's size and SHA-256.
    static func isInPlace(_ entry: RestorePlan.Entry, under root: String) throws -> Bool {
        let path = root + "/" + entry.path
        guard TargetDirectory.kind(path) == .file else { return false }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, Int64(st.st_size) == entry.file.size else { return false }
        return (try? Digest.hashFile(.sha256, fd: fd).hexString) == entry.file.sha256.hex
    }

    /// One file: nil when it is in place and verified, otherwise why not (nothing is left
    /// under its final name then).
    private static func download(
        _ entry: RestorePlan.Entry, under directory: TargetDirectory, from store: any ObjectStore
    ) async throws -> String? {
        try Task.checkCancellation()
        let parent: String
        do { parent = try directory.createParents(of: entry.path) } catch { return "\(error)" }
        let name = String(entry.path.split(separator: "/").last!)
        let final = parent + "/" + name
        let staging = parent + "/.\(name).cassnap-restore"
        defer { unlink(staging) }
        let info: ObjectInfo
        do { info = try await store.get(key: entry.file.objectKey, to: staging) } catch {
            return "download failed: \(error)"
        }
        guard info.size == entry.file.size else {
            return "the object has \(info.size) bytes, the manifest says \(entry.file.size)"
        }
        // The store checked the bytes against the SHA-256 it holds; where it holds none, hash
        // the staged file (just written, so read from the page cache).
        let sha: String
        if let held = info.sha256 {
            sha = held
        } else {
            let fd = open(staging, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return "cannot read back \(staging)" }
            defer { close(fd) }
            guard let hashed = try? Digest.hashFile(.sha256, fd: fd).hexString else {
                return "cannot read back \(staging)"
            }
            sha = hashed
        }
        guard sha == entry.file.sha256.hex else {
            return
                "the object's SHA-256 is \(sha), the manifest says \(entry.file.sha256.hex): corrupt or replaced"
        }
        guard TargetDirectory.kind(final) != .symlink, rename(staging, final) == 0 else {
            return "cannot move into place: \(String(cString: strerror(errno)))"
        }
        let dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
        return nil
    }
}
