import CassnapAPI
import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import CassnapWatcher
import Foundation
import Logging

/// Snapshots that operators take themselves (`nodetool snapshot -t X` from cron, as tablesnap
/// users do) ship by watching like any other. Once such a tag has **settled** on this node —
/// every file of it uploaded, and its set of files unchanged for `snapshotSettle` — the agent
/// writes its node manifest, checked against the bucket exactly as for a coordinator's
/// snapshot, so it restores the same way (`cassnap restore X --node HOST`, from the bucket
/// alone), and tells the coordinator, which catalogs it as a node snapshot.
///
/// A tag the coordinator commanded is left to its `SnapshotRunner`. A tag whose files change
/// after its manifest was written (another `nodetool snapshot -t X` for more keyspaces) settles
/// again and gets a new manifest. What was written is remembered in the agent state, so a
/// restart does not write manifests again.
struct SettledSnapshots: Sendable {
    let node: NodeContext
    let tagFilter: SnapshotTagFilter
    let nodetool: Nodetool
    let settle: Duration
    let logger: Logger

    /// The state key under which a tag's handling is remembered.
    static func stateKey(_ tag: String) -> String { "snapshot-tag:" + tag }
    /// The value for a tag the coordinator commanded.
    static let commanded = "commanded"

    struct Seen {
        var fingerprint: String
        var since: ContinuousClock.Instant
        /// The stamp of the tag's directories when `fingerprint` was taken; nil when one of
        /// them had changed too recently for its modification time to be trusted.
        var directories: String?
        /// Every file of `fingerprint` is uploaded: checked once, not at every pass.
        var uploaded = false
        /// Passes since the files were last listed, which trusted `directories` instead.
        var passesWithoutListing = 0
    }

    /// A settled tag is listed again at least this often (in passes), although its
    /// directories look unchanged: a file rewritten in place, or added to an index's
    /// subdirectory, leaves the tag directories' modification times as they were.
    static let listingEvery = 20

    func run(stopped: @escaping @Sendable () -> Bool) async {
        var seen: [String: Seen] = [:]
        let tick = max(.seconds(1), min(.seconds(15), settle / 4))
        while !Task.isCancelled && !stopped() {
            try? await Task.sleep(for: tick)
            if Task.isCancelled || stopped() { return }
            await pass(&seen)
        }
    }

    /// One look at every tag on disk; writes the manifests of the tags that settled. A tag
    /// whose directories are unchanged since its files were last listed is not listed again
    /// (a 32,000-file snapshot cost an idle agent 5% of a core, listed every 15 s).
    func pass(_ seen: inout [String: Seen], now: ContinuousClock.Instant = .now) async {
        let tags = Self.tagDirectories(node.dataDirectories)
        for tag in seen.keys where tags[tag] == nil { seen[tag] = nil }
        var info: Nodetool.NodeInfo?
        for (tag, directories) in tags.sorted(by: { $0.key < $1.key }) {
            guard let snapshotTag = try? SnapshotTag(tag),
                tagFilter.shouldShip(tag: snapshotTag)
            else { continue }
            let remembered = try? await node.state.meta(Self.stateKey(tag))
            if remembered == Self.commanded { continue }
            let stamp = Self.stamp(directories)
            if let earlier = seen[tag], stamp != nil, earlier.directories == stamp,
                earlier.passesWithoutListing < Self.listingEvery
            {
                // Unchanged: written already, or settled and uploaded, waiting for nodetool.
                if remembered == "manifest:" + earlier.fingerprint {
                    seen[tag]?.passesWithoutListing += 1
                    continue
                }
                if earlier.uploaded, now - earlier.since >= settle {
                    if info == nil { info = await nodetool.nodeInfo() }
                    if info?.tokens.isEmpty ?? true {
                        seen[tag]?.passesWithoutListing += 1
                        continue
                    }
                }
            }
            let runner = SnapshotRunner(
                node: node, nodetool: nodetool, info: info ?? Nodetool.NodeInfo(), logger: logger)
            let listing = runner.snapshotFiles(tag: tag)
            guard !listing.files.isEmpty, listing.unshippable.isEmpty else { continue }
            let fingerprint = Self.fingerprint(listing.files)
            guard var earlier = seen[tag], earlier.fingerprint == fingerprint else {
                seen[tag] = Seen(fingerprint: fingerprint, since: now, directories: stamp)
                continue
            }
            earlier.directories = stamp
            earlier.passesWithoutListing = 0
            seen[tag] = earlier
            if remembered == "manifest:" + fingerprint { continue }
            guard now - earlier.since >= settle else { continue }
            if !earlier.uploaded {
                guard await allUploaded(listing.files) else { continue }
                seen[tag]?.uploaded = true
            }
            if info == nil { info = await nodetool.nodeInfo() }
            guard let info, !info.tokens.isEmpty else {
                logger.debug(
                    "A settled snapshot waits for nodetool info (the node's tokens go into its manifest)",
                    metadata: ["snapshot.tag": "\(tag)"])
                continue
            }
            await writeManifest(snapshotTag, files: listing.files, fingerprint: fingerprint, info: info)
        }
    }

    private func writeManifest(
        _ tag: SnapshotTag, files: [String], fingerprint: String, info: Nodetool.NodeInfo
    )
        async
    {
        var logger = logger
        logger[metadataKey: "snapshot.tag"] = "\(tag)"
        let runner = SnapshotRunner(node: node, nodetool: nodetool, info: info, logger: logger)
        // Taken when its newest file appeared on disk, as near as the agent can tell.
        let takenAt = files.compactMap { Self.changeTime($0) }.max() ?? Date()
        let command = AgentAPI.SnapshotCommand(
            snapshotID: SnapshotID(), tag: tag, at: takenAt, deadline: Date().addingTimeInterval(600),
            keyspaces: [], tables: [], clearAfterUpload: false)
        do {
            let manifest = try await runner.checkedManifest(
                command: command, takenAt: takenAt, files: files, logger: logger, origin: .node)
            let key = node.keys.key(for: .nodeManifest(host: node.host, tag: tag))
            _ = try await node.store.put(
                key: key, source: .bytes(Array(manifest.encoded())),
                options: PutOptions(contentType: "application/json"))
            try await node.state.setMeta(Self.stateKey(tag.description), "manifest:" + fingerprint)
            let all = manifest.allFiles
            logger.info(
                "Node manifest written for a snapshot taken outside cassnap",
                metadata: ["snapshot.files": "\(all.count)", "snapshot.manifest_key": "\(key)"])
            try await node.state.queueOutbox(
                kind: .nodeSnapshots,
                AgentAPI.NodeSnapshotReport(
                    tag: tag, manifestKey: key, takenAt: takenAt, files: all.count,
                    bytes: all.reduce(0) { $0 + $1.size }))
        } catch {
            logger.warning(
                "Could not write the manifest of a settled snapshot; trying again later",
                metadata: ["error.message": "\(error)"])
        }
    }

    /// Asked a slice at a time, stopping at the first file not uploaded: the records of a
    /// whole storm's snapshot at once were the agent's peak heap, every tick until it drained.
    private func allUploaded(_ paths: [String]) async -> Bool {
        for start in stride(from: 0, to: paths.count, by: 1000) {
            let slice = paths[start..<min(start + 1000, paths.count)]
            guard let records = try? await node.state.files(paths: slice),
                slice.allSatisfy({ records[$0]?.status == .uploaded })
            else { return false }
        }
        return true
    }

    /// Every `<table>/snapshots/<tag>` directory in the data directories, by tag.
    static func tagDirectories(_ dataDirectories: [String]) -> [String: [String]] {
        var tags: [String: [String]] = [:]
        for data in dataDirectories {
            for keyspace in DirectoryListing.entries(of: data) ?? [] where keyspace.kind == .directory {
                for table in DirectoryListing.entries(of: keyspace.path) ?? [] where table.kind == .directory
                {
                    for tag in DirectoryListing.entries(of: table.path + "/snapshots") ?? []
                    where tag.kind == .directory && !tag.hasInvalidName {
                        tags[(tag.path as NSString).lastPathComponent, default: []].append(tag.path)
                    }
                }
            }
        }
        return tags
    }

    /// Changes whenever an entry is added to or removed from one of `directories`, or the set
    /// of them changes; nil when one changed within the last `racy` seconds, as a later change
    /// within the same clock tick would leave its modification time as it is.
    static func stamp(_ directories: [String], now: Date = Date(), racy: TimeInterval = 2) -> String? {
        let hasher = CassnapCrypto.Hasher(.sha256)
        for directory in directories.sorted() {
            var st = stat()
            guard stat(directory, &st) == 0 else { return nil }
            let modified = TimeInterval(st.st_mtim.tv_sec) + TimeInterval(st.st_mtim.tv_nsec) / 1e9
            guard modified < now.timeIntervalSince1970 - racy else { return nil }
            hasher.update(Array("\(directory)\u{0}\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n".utf8))
        }
        return hasher.finalize().hexString
    }

    /// Changes whenever a file is added, removed or resized.
    static func fingerprint(_ paths: [String]) -> String {
        let hasher = CassnapCrypto.Hasher(.sha256)
        for path in paths.sorted() {
            var st = stat()
            let size = lstat(path, &st) == 0 ? Int64(st.st_size) : -1
            hasher.update(Array("\(path)\u{0}\(size)\n".utf8))
        }
        return hasher.finalize().hexString
    }

    /// The inode change time: when the snapshot's hard link was made.
    static func changeTime(_ path: String) -> Date? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return Date(
            timeIntervalSince1970: TimeInterval(st.st_ctim.tv_sec) + TimeInterval(st.st_ctim.tv_nsec) / 1e9)
    }
}
