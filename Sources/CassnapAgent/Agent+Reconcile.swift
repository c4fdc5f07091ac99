import CassnapCore
import CassnapWatcher
import Foundation

/// Disk, state and bucket compared: the periodic reconcile, the disk scan it and `--once` start
/// with, and the refresh of this node's bucket listing.
extension Agent {
    /// Every file below the data directories, fed to the ingestor like watcher events.
    func scanDisk() async throws {
        var batch: [WatchEvent] = []
        let filter = WatchFilter(configuration: configuration)
        for root in configuration.dataDirectories {
            var stack = [root]
            while let directory = stack.popLast() {
                for entry in DirectoryListing.entries(of: directory) ?? [] {
                    if entry.hasInvalidName {
                        batch.append(.entrySkipped(entry.path, .nameNotUTF8))
                        continue
                    }
                    switch entry.kind {
                    case .directory: if filter.shouldDescend(into: entry.path) { stack.append(entry.path) }
                    case .regularFile: batch.append(.fileAppeared(entry.path))
                    case .other(let kind): batch.append(.entrySkipped(entry.path, .notARegularFile(kind)))
                    }
                    if batch.count >= 4096 {
                        try await ingestor.handle(batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
            }
        }
        if !batch.isEmpty { try await ingestor.handle(batch) }
    }

    func queuePendingRows(includingFailed: Bool = false) async throws {
        if includingFailed { try await state.requeueFailed() }
        await queue.rescanDatabase()
    }

    /// Replaces the cache of this node's keys with a fresh listing, read page by page into a
    /// temporary table (a node's listing is never held in memory). Keys this agent recorded
    /// after the listing started stay even if the listing missed them: their page may have been
    /// fetched before the upload, and forgetting them would let a reused name overwrite them.
    /// Objects this agent uploaded before the listing started but that the bucket no longer has
    /// go back to pending.
    func refreshBucketListing() async throws {
        let listing = try await state.beginBucketListing()
        let lost: Int
        do {
            try await store.listPages(prefix: keys.nodeRoot(host)) { page in
                try await state.addToBucketListing(listing, page)
            }
            lost = try await state.finishBucketListing(listing)
        } catch {
            await state.abandonBucketListing(listing)
            throw error
        }
        metrics.lostObjects.add(lost, ordering: .relaxed)
        if lost > 0 {
            logger.warning(
                "Objects missing from the bucket will be uploaded again",
                metadata: ["objects.lost": "\(lost)"])
        }
    }

    /// Disk vs state vs bucket: finds what inotify missed, what the bucket lost, and forgets
    /// paths that are gone.
    package func reconcile() async throws {
        logger.debug("Reconcile starting")
        try await refreshBucketListing()
        try await scanDisk()
        try await ingestor.closeVanishedLiveSSTables()
        try await queuePendingRows(includingFailed: true)
        // Paths already handled that left the disk: their objects (and dedup rows) stay.
        // Read in windows of rowids, so a node of a million files is not held in memory.
        var after: Int64 = 0
        var forgotten = 0
        while true {
            let rows = try await state.handledPaths(afterRowID: after, limit: 4096)
            guard let last = rows.last else { break }
            after = last.rowID
            let gone = rows.map(\.path).filter { FileIdentity.of(path: $0) == nil }
            if gone.isEmpty { continue }
            forgotten += gone.count
            try await state.forgetHandled(paths: gone)
        }
        metrics.forgottenPaths.add(forgotten, ordering: .relaxed)
        metrics.reconciles.add(1, ordering: .relaxed)
        logger.debug("Reconcile finished", metadata: ["files.forgotten": "\(forgotten)"])
    }
}
