import CassnapAPI
import CassnapCore
import Foundation

/// The coordinator's index of the bucket plus what only the coordinator knows (registrations,
/// heartbeats, command queues, live-SSTable events). The bucket stays the truth for snapshots
/// (invariant 5): everything about them here can be rebuilt with `CatalogRebuilder`.
///
/// Split by consumer: each controller and service holds only the parts it calls. In every part,
/// methods that change several rows do so in one transaction, so a crash leaves either the old
/// or the new state.
package typealias Catalog = NodeCatalog & ReportCatalog & SnapshotCatalog & MirrorCatalog & QueryCatalog
    & RebuildCatalog

/// Registered nodes and their heartbeats: the agents' endpoints, and the admin's node lookups.
package protocol NodeCatalog: Sendable {
    func register(_ registration: AgentAPI.Registration, at now: Date) async throws
    /// False when the node never registered.
    func heartbeat(_ host: HostID, _ beat: AgentAPI.Heartbeat, at now: Date) async throws -> Bool
    func isRegistered(_ host: HostID) async throws -> Bool
    func nodes() async throws -> [AdminAPI.Node]
    /// A host ID, or a hostname that names exactly one node.
    func resolveNode(_ ref: String) async throws -> HostID?
    /// Registered nodes whose last heartbeat is at or after `since`.
    func liveNodes(since: Date) async throws -> [ClusterSnapshotRecord.NodeEntry]
}

/// What agents report, and the commands they poll for.
///
/// Contract: every report method is idempotent by `reportID` — a report id seen before
/// changes nothing and answers `duplicate`.
package protocol ReportCatalog: Sendable {
    func commands(for host: HostID) async throws -> [AgentAPI.Command]
    func recordFiles(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.FileReport>, at now: Date) async throws
        -> AgentAPI.ReportReceipt
    func recordSSTableEvents(_ host: HostID, _ batch: AgentAPI.Batch<AgentAPI.SSTableEvent>, at now: Date)
        async throws -> AgentAPI.ReportReceipt
    func isReportProcessed(_ reportID: String) async throws -> Bool
    /// Applies verified manifest reports of one node in one transaction.
    func applyNodeOutcomes(reportID: String, host: HostID, outcomes: [NodeOutcome], at now: Date) async throws
        -> AgentAPI.ReportReceipt
    /// Records verified node snapshots (taken outside cassnap; the agent wrote their
    /// manifests); a node and tag seen before is replaced.
    func recordNodeSnapshots(_ host: HostID, _ batch: AgentAPI.Batch<AdminAPI.OperatorSnapshot>, at now: Date)
        async throws -> AgentAPI.ReportReceipt
}

/// Cluster snapshots as `SnapshotService` plans, settles and deletes them and the admin lists
/// them; and the node snapshots taken outside cassnap.
package protocol SnapshotCatalog: Sendable {
    /// Throws `CatalogError.tagExists` when the tag is taken.
    func createSnapshot(_ plan: SnapshotPlan) async throws
    /// A snapshot id or a tag.
    func resolveSnapshot(_ ref: String) async throws -> SnapshotID?
    func record(_ id: SnapshotID) async throws -> ClusterSnapshotRecord?
    /// One snapshot as one node's report sees it, without loading the other nodes.
    func nodeState(_ id: SnapshotID, host: HostID) async throws -> SnapshotNodeState?
    /// Snapshots ordered by requested instant, then tag.
    func summaries(page: PageRequest<SnapshotListKey>) async throws
        -> CatalogPage<AdminAPI.SnapshotSummary, SnapshotListKey>
    func detail(_ id: SnapshotID) async throws -> AdminAPI.SnapshotDetail?
    /// Pending snapshots whose deadline passed become partial or failed; answers how many.
    func expireSnapshots(at now: Date) async throws -> Int
    func deleteSnapshot(_ id: SnapshotID) async throws -> AdminAPI.SnapshotSummary?
    /// Node snapshots taken outside cassnap, newest first; every node's when `host` is nil.
    func nodeSnapshots(_ host: HostID?) async throws -> [AdminAPI.OperatorSnapshot]
}

/// What `RecordMirror` needs to keep the bucket's cluster snapshot records in step.
package protocol MirrorCatalog: Sendable {
    /// Records whose latest revision is not yet in the bucket.
    func unmirroredRecords() async throws -> [(record: ClusterSnapshotRecord, revision: Int)]
    func markMirrored(_ id: SnapshotID, revision: Int) async throws
}

/// The admin's SSTable queries: which SSTables form a snapshot, which were live on a node.
package protocol QueryCatalog: Sendable {
    /// SSTables ordered by node, keyspace, table, index, SSTable; `page.limit` counts SSTables.
    /// Every page costs O(page) except with a keyspace-only or table-only filter and no node,
    /// which scans the snapshot's other keyspaces/tables between matches.
    func sstables(_ id: SnapshotID, filter: SSTableFilter, page: PageRequest<SSTableKey>) async throws
        -> CatalogPage<AdminAPI.SnapshotSSTable, SSTableKey>
    /// What was live on `host` at `instant`, as a node manifest; nil for an unknown node.
    /// Throws `PointInTimeError` when the history does not cover it or a file is missing.
    func pointInTimeManifest(_ host: HostID, at instant: Date) async throws -> AdminAPI.PointInTime?
    /// Ordered by keyspace, table, SSTable.
    func liveSSTables(_ host: HostID, at instant: Date, page: PageRequest<LiveSSTableKey>) async throws
        -> CatalogPage<AdminAPI.LiveSSTable, LiveSSTableKey>
}

/// What `CatalogRebuilder` writes.
package protocol RebuildCatalog: Sendable {
    /// Replaces every snapshot, its nodes and files with what the bucket holds, in one transaction.
    func replaceSnapshots(with contents: BucketContents) async throws -> AdminAPI.RebuildResult
}

extension SnapshotCatalog {
    /// Every snapshot, page by page: for tests and small catalogs.
    package func summaries() async throws -> [AdminAPI.SnapshotSummary] {
        try await allPages {
            try await summaries(page: PageRequest(after: $0, limit: AdminAPI.PageLimit.snapshots.maximum))
        }
    }
}

extension QueryCatalog {
    /// Every SSTable of a snapshot, page by page: for tests and small snapshots.
    package func sstables(_ id: SnapshotID, filter: SSTableFilter) async throws -> [AdminAPI.SnapshotSSTable]
    {
        try await allPages {
            try await sstables(
                id, filter: filter,
                page: PageRequest(after: $0, limit: AdminAPI.PageLimit.snapshotSSTables.maximum))
        }
    }

    /// Every live SSTable at `instant`, page by page: for tests.
    package func liveSSTables(_ host: HostID, at instant: Date) async throws -> [AdminAPI.LiveSSTable] {
        try await allPages {
            try await liveSSTables(
                host, at: instant,
                page: PageRequest(after: $0, limit: AdminAPI.PageLimit.liveSSTables.maximum))
        }
    }
}

/// Every item of a catalog listing, page by page: `CassnapCore.allPages` over `CatalogPage`s.
private func allPages<Item, Key>(_ fetch: (Key?) async throws -> CatalogPage<Item, Key>) async throws
    -> [Item]
{
    try await CassnapCore.allPages { (after: Key?) in
        let page = try await fetch(after)
        return (page.items, page.next)
    }
}

package enum CatalogError: Error, CustomStringConvertible, Sendable {
    case tagExists(SnapshotTag)

    package var description: String {
        switch self {
        case .tagExists(let tag): "a snapshot with tag \(tag.rawValue.quotedForMessage) already exists"
        }
    }
}

/// A new cluster snapshot: its record (status pending) and one command per expected node.
package struct SnapshotPlan: Sendable {
    package var record: ClusterSnapshotRecord
    package var commands: [(host: HostID, command: AgentAPI.Command)]

    package init(record: ClusterSnapshotRecord, commands: [(host: HostID, command: AgentAPI.Command)]) {
        self.record = record
        self.commands = commands
    }
}

/// A snapshot's tag and status, and one node's status in it (nil: the node is not expected).
package struct SnapshotNodeState: Sendable, Hashable {
    package var id: SnapshotID
    package var tag: SnapshotTag
    package var status: ClusterSnapshotRecord.Status
    package var node: ClusterSnapshotRecord.NodeStatus?
}

/// One SSTable component file of a node snapshot.
package struct SnapshotFile: Sendable, Hashable {
    package var keyspace: String
    package var table: String
    package var tableID: TableID?
    package var index: String?
    package var sstable: String
    package var fileName: String
    package var size: Int64
    package var sha256: String
    package var objectKey: String

    package init(
        keyspace: String, table: String, tableID: TableID?, index: String?, sstable: String, fileName: String,
        size: Int64, sha256: String, objectKey: String
    ) {
        self.keyspace = keyspace
        self.table = table
        self.tableID = tableID
        self.index = index
        self.sstable = sstable
        self.fileName = fileName
        self.size = size
        self.sha256 = sha256
        self.objectKey = objectKey
    }

    /// The SSTable files a manifest lists, and its opaque files: those of an SSTable (SAI,
    /// SASI) under that SSTable's name, the others (1.2's `<table>.json`) under an empty one.
    package static func files(of manifest: NodeManifest) -> [SnapshotFile] {
        manifest.tables.flatMap { table in
            table.sstables.flatMap { sstable in
                sstable.files.map { file in
                    SnapshotFile(
                        keyspace: table.keyspace, table: table.table, tableID: table.tableID,
                        index: sstable.index,
                        sstable: sstable.name, fileName: file.fileName, size: file.size,
                        sha256: file.sha256.hex,
                        objectKey: file.objectKey)
                }
            }
                + table.opaqueFiles.map { file in
                    SnapshotFile(
                        keyspace: table.keyspace, table: table.table, tableID: table.tableID,
                        index: file.index,
                        sstable: (try? OpaqueFileName(file.fileName))?.sstableName ?? "",
                        fileName: file.fileName, size: file.size, sha256: file.sha256.hex,
                        objectKey: file.objectKey)
                }
        }
    }
}

/// What one manifest report item did to its node's part of a snapshot.
package struct NodeOutcome: Sendable {
    package enum Result: Sendable {
        case complete(takenAt: Date, manifestKey: String, files: [SnapshotFile])
        case failed(String)
    }
    package var snapshotID: SnapshotID
    package var result: Result

    package init(snapshotID: SnapshotID, result: Result) {
        self.snapshotID = snapshotID
        self.result = result
    }
}

package struct SSTableFilter: Sendable, Hashable {
    package var host: HostID?
    package var keyspace: String?
    package var table: String?

    package init(host: HostID? = nil, keyspace: String? = nil, table: String? = nil) {
        self.host = host
        self.keyspace = keyspace
        self.table = table
    }
}

/// What `CatalogRebuilder` read from the bucket.
package struct BucketContents: Sendable {
    package var records: [ClusterSnapshotRecord]
    /// The manifest of each complete node, by snapshot id and host.
    package var manifests: [SnapshotID: [HostID: NodeManifest]]
    /// Objects that could not be read, with why.
    package var skipped: [AdminAPI.SkippedObject]

    package init(
        records: [ClusterSnapshotRecord], manifests: [SnapshotID: [HostID: NodeManifest]],
        skipped: [AdminAPI.SkippedObject] = []
    ) {
        self.records = records
        self.manifests = manifests
        self.skipped = skipped
    }
}
