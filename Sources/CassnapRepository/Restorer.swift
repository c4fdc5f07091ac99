import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Downloads restore plans into a target directory: checks everything before writing anything
/// (names, symlinks on the way, free space), then downloads in parallel, each file into a
/// staging name beside its final one, checked against the manifest's size and SHA-256, fsynced,
/// and only then renamed into place; each directory written is fsynced once at the end.
/// A rerun skips every file already in place with the right size and SHA-256, so a restore
/// killed at any point resumes.
///
/// Speed: a file is one GET whose bytes are hashed as they arrive (no second read), and a file
/// of `rangeThreshold` bytes or more is fetched as `rangesPerFile` ranges in parallel, written in
/// place with `pwrite` and hashed once complete. Small and large files share the same
/// `concurrency` transfers. Memory does not grow with file sizes: bytes stream to disk.
package struct Restorer: Sendable {
    package let repository: Repository
    /// Transfers at once (whole files and ranges of large ones).
    package var concurrency: Int
    /// Files this large are fetched as `rangesPerFile` ranges at once (rclone's multi-thread
    /// cutoff and stream count). Few, large ranges: a server may read or copy the whole object
    /// for each range it serves (moto does), so 16 MiB ranges of a 1 GiB file measured 6× slower.
    package var rangeThreshold: Int64 = 256 << 20
    package var rangesPerFile: Int64 = 4

    package init(repository: Repository, concurrency: Int = 8) {
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
        if let space = directory.space() {
            // Whole blocks per file (3,000 files of 100 bytes take 12 MB of 4 KiB blocks, not
            // 300 KB), and an inode per file and directory; tmpfs and small volumes run out of both.
            let onDisk = space.bytesOnDisk(pending.map(\.file.size))
            let directories = Set(pending.map { ($0.path as NSString).deletingLastPathComponent }).count
            if space.freeBytes < onDisk {
                throw RepositoryError.unsafeTarget(
                    path: directory.root,
                    detail:
                        "it needs \(onDisk) bytes on disk for \(pending.count) files (\(needed) bytes of data "
                        + "in \(space.blockSize)-byte blocks), and \(space.freeBytes) bytes are free; nothing was written"
                )
            }
            if space.freeInodes > 0, space.freeInodes < Int64(pending.count + directories) {
                throw RepositoryError.unsafeTarget(
                    path: directory.root,
                    detail:
                        "it needs \(pending.count + directories) inodes for \(pending.count) files and their "
                        + "directories, and \(space.freeInodes) are free; nothing was written")
            }
        }

        var progress = Progress(
            files: outcome.skippedFiles, totalFiles: entries.count, bytes: outcome.skippedBytes,
            totalBytes: entries.reduce(0) { $0 + $1.file.size }, startedAt: started)
        onProgress(progress)
        try await download(pending, under: directory, outcome: &outcome) { entry, failure in
            if failure == nil { progress.bytes += entry.file.size }
            progress.files += 1
            onProgress(progress)
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

    /// One file being restored: its staging file, open for the transfers that fill it.
    private struct Staged: Sendable {
        var entry: RestorePlan.Entry
        var directory: String
        var name: String
        var fd: Int32
        var staging: String { directory + "/.\(name).cassnap-restore" }
        var final: String { directory + "/" + name }
    }

    /// A unit of work for one transfer slot.
    private enum Step: Sendable {
        /// A whole file in one GET, hashed as it streams.
        case whole(Staged)
        /// One range of a large file.
        case part(Staged, Range<Int64>)
    }

    /// Runs the transfers, at most `concurrency` at a time; `done` is called once per file.
    private func download(
        _ entries: [RestorePlan.Entry], under directory: TargetDirectory, outcome: inout Outcome,
        done: (RestorePlan.Entry, String?) -> Void
    ) async throws {
        let store = repository.store
        var steps: [Step] = []
        var queued = entries[...]
        var knownDirectories: Set<String> = []
        var partsLeft: [String: Int] = [:]  // by entry path, for ranged files
        var partFailure: [String: String] = [:]
        var written: Set<String> = []

        /// Opens the next file's staging file and queues its steps; false when none is left.
        func stageNext() -> Bool {
            guard let entry = queued.popFirst() else { return false }
            let staged: Staged
            do { staged = try stage(entry, under: directory, known: &knownDirectories) } catch {
                outcome.failures.append(
                    Failure(path: entry.path, objectKey: entry.file.objectKey, reason: "\(error)"))
                done(entry, "\(error)")
                return true
            }
            let size = entry.file.size
            if size >= rangeThreshold {
                let partSize = (size + rangesPerFile - 1) / rangesPerFile
                var start: Int64 = 0
                var count = 0
                while start < size {
                    let end = min(size, start + partSize)
                    steps.append(.part(staged, start..<end))
                    start = end
                    count += 1
                }
                partsLeft[entry.path] = count
            } else {
                steps.append(.whole(staged))
            }
            return true
        }
        func finished(_ staged: Staged, _ failure: String?) {
            if let failure {
                outcome.failures.append(
                    Failure(path: staged.entry.path, objectKey: staged.entry.file.objectKey, reason: failure))
            } else {
                outcome.downloadedFiles += 1
                outcome.downloadedBytes += staged.entry.file.size
                written.insert(staged.directory)
            }
            done(staged.entry, failure)
        }

        try await withThrowingTaskGroup(of: (Step, String?).self) { group in
            var running = 0
            func startSome() {
                while running < concurrency {
                    if steps.isEmpty && !stageNext() { return }
                    guard !steps.isEmpty else { continue }
                    let step = steps.removeFirst()
                    running += 1
                    group.addTask {
                        switch step {
                        case .whole(let staged):
                            return (step, await Self.fetchWhole(staged, from: store))
                        case .part(let staged, let range):
                            return (step, await Self.fetchPart(staged, range, from: store))
                        }
                    }
                }
            }
            startSome()
            while let (step, failure) = try await group.next() {
                running -= 1
                switch step {
                case .whole(let staged):
                    finished(staged, failure)
                case .part(let staged, _):
                    let path = staged.entry.path
                    if let failure, partFailure[path] == nil { partFailure[path] = failure }
                    partsLeft[path, default: 1] -= 1
                    if partsLeft[path] == 0 {
                        partsLeft[path] = nil
                        let failure = partFailure.removeValue(forKey: path)
                        // The hash needs every byte: read back once (from the page cache).
                        if let failure {
                            finished(staged, Self.discard(staged, because: failure))
                        } else {
                            finished(staged, await Self.completeOffThread(staged, sha256: nil))
                        }
                    }
                }
                startSome()
            }
        }
        // The renames are durable once their directories are.
        let directories = written
        try? await BlockingThreads.shared.run {
            for path in directories {
                let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd >= 0 {
                    fsync(fd)
                    close(fd)
                }
            }
        }
    }

    /// Creates the parents of `entry` (once per directory) and its empty staging file.
    private func stage(_ entry: RestorePlan.Entry, under directory: TargetDirectory, known: inout Set<String>)
        throws -> Staged
    {
        let relativeParent = entry.path.split(separator: "/").dropLast().joined(separator: "/")
        let parent: String
        if known.contains(relativeParent) {
            parent = relativeParent.isEmpty ? directory.root : directory.root + "/" + relativeParent
        } else {
            parent = try directory.createParents(of: entry.path)
            known.insert(relativeParent)
        }
        let name = String(entry.path.split(separator: "/").last!)
        var staged = Staged(entry: entry, directory: parent, name: name, fd: -1)
        let fd = open(staged.staging, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else {
            throw RepositoryError.unsafeTarget(
                path: staged.staging, detail: "cannot create: \(String(cString: strerror(errno)))")
        }
        staged.fd = fd
        return staged
    }

    private static func fetchWhole(_ staged: Staged, from store: any ObjectStore) async -> String? {
        let read: ObjectRead
        do {
            read = try await store.read(key: staged.entry.file.objectKey, into: ReadTarget(fd: staged.fd))
        } catch {
            return discard(staged, because: "download failed: \(error)")
        }
        guard read.bytes == staged.entry.file.size else {
            return discard(
                staged,
                because: "the object has \(read.bytes) bytes, the manifest says \(staged.entry.file.size)")
        }
        return await completeOffThread(staged, sha256: read.sha256)
    }

    /// `complete` on a thread of its own: hashing and fsync block.
    private static func completeOffThread(_ staged: Staged, sha256: String?) async -> String? {
        // `run` throws only what the work throws, and `complete` does not.
        (try? await BlockingThreads.shared.run { complete(staged, sha256: sha256) }) ?? nil
    }

    private static func fetchPart(_ staged: Staged, _ range: Range<Int64>, from store: any ObjectStore) async
        -> String?
    {
        do {
            _ = try await store.read(
                key: staged.entry.file.objectKey,
                into: ReadTarget(fd: staged.fd, offset: range.lowerBound, range: range, hash: false))
            return nil
        } catch {
            return "download failed (bytes \(range.lowerBound)-\(range.upperBound - 1)): \(error)"
        }
    }

    /// Checks the staged bytes (hashing them when `sha256` is nil), fsyncs and renames them into
    /// place; nil when done, else why not (the staging file is removed then).
    private static func complete(_ staged: Staged, sha256: String?) -> String? {
        let expected = staged.entry.file
        var st = stat()
        guard fstat(staged.fd, &st) == 0, Int64(st.st_size) == expected.size else {
            return discard(
                staged, because: "the download has \(st.st_size) bytes, the manifest says \(expected.size)")
        }
        guard let sha = sha256 ?? (try? Digest.hashFile(.sha256, fd: staged.fd).hexString) else {
            return discard(staged, because: "cannot read back \(staged.staging)")
        }
        guard sha == expected.sha256.hex else {
            return discard(
                staged,
                because:
                    "the object's SHA-256 is \(sha), the manifest says \(expected.sha256.hex): corrupt or replaced"
            )
        }
        guard fsync(staged.fd) == 0 else {
            return discard(staged, because: "fsync failed: \(String(cString: strerror(errno)))")
        }
        close(staged.fd)
        guard TargetDirectory.kind(staged.final) != .symlink, rename(staged.staging, staged.final) == 0 else {
            let reason = "cannot move into place: \(String(cString: strerror(errno)))"
            unlink(staged.staging)
            return reason
        }
        return nil
    }

    /// Closes and removes a staging file that will not be completed; returns `reason`.
    private static func discard(_ staged: Staged, because reason: String) -> String {
        close(staged.fd)
        unlink(staged.staging)
        return reason
    }
}
