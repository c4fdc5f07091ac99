import CassnapCore
import CassnapObjectStore
import Foundation

/// Which cluster snapshots to keep. A snapshot is kept when any rule keeps it; pending
/// snapshots are always kept. With no rule at all nothing expires.
package struct RetentionPolicy: Sendable, Hashable {
    /// The newest N complete snapshots.
    package var keepLast: Int?
    /// Every snapshot requested within this many seconds of now.
    package var keepWithin: TimeInterval?
    /// Every snapshot whose tag matches one of these.
    package var keepTags: [GlobPattern] = []

    package init(keepLast: Int? = nil, keepWithin: TimeInterval? = nil, keepTags: [GlobPattern] = []) {
        self.keepLast = keepLast
        self.keepWithin = keepWithin
        self.keepTags = keepTags
    }

    /// The records to delete, oldest first.
    package func expired(_ records: [ClusterSnapshotRecord], now: Date) -> [ClusterSnapshotRecord] {
        guard keepLast != nil || keepWithin != nil || !keepTags.isEmpty else { return [] }
        let newestComplete = Set(
            records.filter { $0.status == .complete }.sorted { $0.requestedAt > $1.requestedAt }
                .prefix(keepLast ?? 0).map(\.id))
        return records.filter { record in
            if record.status == .pending || newestComplete.contains(record.id) { return false }
            if let within = keepWithin, now.timeIntervalSince(record.requestedAt) <= within { return false }
            if keepTags.contains(where: { $0.matches(record.tag.rawValue) }) { return false }
            return true
        }.sorted { $0.requestedAt < $1.requestedAt }
    }
}

/// What a prune removed (or, dry, would remove).
package struct PruneReport: Sendable {
    package var expiredSnapshots: [ClusterSnapshotRecord] = []
    package var orphanManifests = 0
    /// Node snapshots (`origin: node`, no cluster record) whose objects were kept.
    package var nodeSnapshots = 0
    package var poolObjects = 0
    package var poolBytes: Int64 = 0
    /// Pool objects referenced by no retained manifest but younger than the grace period.
    package var sparedYoung = 0
    package var seconds: Double = 0
}

extension Repository {
    /// Mark and sweep of one cluster's pool. Marks every object a retained node manifest lists
    /// (retained: named by a cluster snapshot record that is not being deleted), then deletes
    /// each pool object of the nodes those records name that no retained manifest lists and
    /// that is older than `grace` (an upload or a snapshot may be in flight), in batches of
    /// 1,000 keys. Before deleting, the manifests are listed again and any written since the
    /// mark are marked too. Node manifests that no record names (orphans of an interrupted
    /// delete) are removed once older than `grace`; node snapshots' manifests (`origin: node`,
    /// an operator's `nodetool snapshot` tag) have no record by design, and are kept and marked.
    ///
    /// The race with agents' upload-once state — an agent that believes an object is in the
    /// bucket after it was swept — is closed on the agent's side: it checks a manifest's
    /// objects in the bucket before writing it and uploads what is missing.
    package func sweepPool(
        expired: Set<SnapshotTag>, hosts: Set<HostID>, grace: TimeInterval, now: Date, dryRun: Bool
    ) async throws -> PruneReport {
        var report = PruneReport()
        let started = Date()
        var marked: Set<String> = []
        var markedManifests: Set<String> = []
        // Manifests without a retained record, read once: node snapshots, or orphans.
        var unnamed: [String: NodeManifest] = [:]
        func mark(_ manifest: NodeManifest, key: String) {
            guard markedManifests.insert(key).inserted else { return }
            for file in manifest.allFiles { marked.insert(file.objectKey) }
        }
        // Every node manifest: those a retained record names and node snapshots are marked,
        // the rest are orphans. The records are read afresh each time: a snapshot created
        // during the prune is retained.
        func manifests() async throws -> [ObjectInfo] {
            let records = try await clusterSnapshots()
            // An unreadable record may still name manifests: refuse to guess.
            if let (key, error) = records.unreadable.first {
                throw RepositoryError.invalidDocument(
                    key: key,
                    error: .malformed(document: "cluster snapshot record", detail: "\(error); prune stops"))
            }
            let retainedTags = Set(records.records.map(\.tag)).subtracting(expired)
            var orphans: [ObjectInfo] = []
            for host in hosts.sorted() {
                let root = keys.nodeSnapshotsRoot(host)
                let listing: [ObjectInfo]
                do { listing = try await store.list(prefix: root) } catch {
                    throw RepositoryError(store: error, key: root)
                }
                for info in listing where info.key.hasSuffix("/manifest.json") {
                    let tagText =
                        info.key.dropFirst(root.count).split(separator: "/").first.map(String.init) ?? ""
                    guard let tag = try? SnapshotTag(tagText), info.key == root + "\(tagText)/manifest.json"
                    else {
                        continue
                    }
                    if retainedTags.contains(tag) {
                        if !markedManifests.contains(info.key) {
                            mark(try await nodeManifest(key: info.key), key: info.key)
                        }
                        continue
                    }
                    // Unreadable, it might be a node snapshot's: refuse to guess, as for records.
                    let manifest: NodeManifest
                    if let known = unnamed[info.key] {
                        manifest = known
                    } else {
                        manifest = try await nodeManifest(key: info.key)
                        unnamed[info.key] = manifest
                    }
                    if manifest.origin == .node {
                        mark(manifest, key: info.key)
                    } else {
                        orphans.append(info)
                    }
                }
            }
            return orphans
        }
        _ = try await manifests()

        var candidates: [(key: String, size: Int64)] = []
        for host in hosts.sorted() {
            let root = keys.nodeRoot(host) + "data/"
            do {
                try await store.listPages(prefix: root) { page in
                    for info in page where !marked.contains(info.key) {
                        if let modified = info.lastModified, now.timeIntervalSince(modified) < grace {
                            report.sparedYoung += 1
                            continue
                        }
                        candidates.append((info.key, info.size))
                    }
                }
            } catch {
                throw RepositoryError(store: error, key: root)
            }
        }
        // Manifests written during the sweep may reference what looked unreferenced.
        let orphans = try await manifests()
        let doomed = candidates.filter { !marked.contains($0.key) }
        report.poolBytes = doomed.reduce(0) { $0 + $1.size }
        report.nodeSnapshots = unnamed.values.filter { $0.origin == .node }.count
        let orphanKeys = orphans.filter { info in
            info.lastModified.map { now.timeIntervalSince($0) >= grace } ?? true
        }.map(\.key)
        report.poolObjects = doomed.count
        report.orphanManifests = orphanKeys.count
        if !dryRun {
            for keys in [doomed.map(\.key), orphanKeys] {
                for start in stride(from: 0, to: keys.count, by: 1000) {
                    let batch = Array(keys[start..<min(start + 1000, keys.count)])
                    do { try await store.delete(keys: batch) } catch {
                        throw RepositoryError(store: error, key: batch[0])
                    }
                }
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}
