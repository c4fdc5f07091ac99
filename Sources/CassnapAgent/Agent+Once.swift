extension Agent {
    /// Scans, uploads everything pending and returns what happened (backfill, tablesnap `-B`).
    package func runOnce() async throws -> OnceSummary {
        try await refreshBucketListing()
        try await queuePendingRows(includingFailed: true)
        try await scanDisk()
        await queue.finishWhenDrained()
        await shipper.runWorkers()
        let s = shipper.stats
        let aliases = s.aliases.load(ordering: .relaxed) + s.foundInBucket.load(ordering: .relaxed)
        let summary = OnceSummary(
            uploaded: s.uploadedFiles.load(ordering: .relaxed),
            uploadedBytes: s.uploadedBytes.load(ordering: .relaxed),
            alreadyStored: aliases, vanished: s.vanished.load(ordering: .relaxed),
            failed: try await state.paths(status: .failed).sorted(),
            pending: try await state.paths(status: .pending).sorted(),
            // Only what was asked for: live files not shipped cannot leave the run incomplete.
            incomplete: configuration.watch.live ? await ingestor.waitingPaths() : [])
        await writeMetrics(watches: 0)
        logger.info("Backfill finished", metadata: summaryMetadata())
        return summary
    }
}
