import CassnapCore
import Foundation

/// What the CLI (and any script) sends the coordinator's admin endpoints under `/v1`.
package enum AdminAPI {
    /// `POST /v1/snapshots`: exactly one of `at` and `delaySeconds`.
    package struct CreateSnapshot: Codable, Sendable, Hashable {
        package var at: Date?
        package var delaySeconds: Double?
        package var keyspaces: [String]?
        package var tables: [String]?
        package var tag: String?
        /// Seconds after the instant that nodes have to report their manifests.
        package var deadlineSeconds: Double?

        package init(
            at: Date? = nil, delaySeconds: Double? = nil, keyspaces: [String]? = nil, tables: [String]? = nil,
            tag: String? = nil, deadlineSeconds: Double? = nil
        ) {
            self.at = at
            self.delaySeconds = delaySeconds
            self.keyspaces = keyspaces
            self.tables = tables
            self.tag = tag
            self.deadlineSeconds = deadlineSeconds
        }
    }

    package struct SnapshotSummary: Codable, Sendable, Hashable {
        package var id: SnapshotID
        package var tag: SnapshotTag
        package var status: ClusterSnapshotRecord.Status
        package var requestedAt: Date
        package var deadline: Date
        package var expectedNodes: Int
        package var completedNodes: Int
        package var files: Int
        package var bytes: Int64
        /// Largest minus smallest per-node instant, seconds.
        package var spreadSeconds: Double?

        package init(
            id: SnapshotID, tag: SnapshotTag, status: ClusterSnapshotRecord.Status, requestedAt: Date,
            deadline: Date, expectedNodes: Int, completedNodes: Int, files: Int, bytes: Int64,
            spreadSeconds: Double?
        ) {
            self.id = id
            self.tag = tag
            self.status = status
            self.requestedAt = requestedAt
            self.deadline = deadline
            self.expectedNodes = expectedNodes
            self.completedNodes = completedNodes
            self.files = files
            self.bytes = bytes
            self.spreadSeconds = spreadSeconds
        }
    }

    package struct NodeSnapshot: Codable, Sendable, Hashable {
        package var hostID: HostID
        package var hostname: String
        package var status: ClusterSnapshotRecord.NodeStatus
        package var takenAt: Date?
        package var manifestKey: String?
        package var files: Int
        package var bytes: Int64
        package var error: String?

        package init(
            hostID: HostID, hostname: String, status: ClusterSnapshotRecord.NodeStatus, takenAt: Date?,
            manifestKey: String?, files: Int, bytes: Int64, error: String?
        ) {
            self.hostID = hostID
            self.hostname = hostname
            self.status = status
            self.takenAt = takenAt
            self.manifestKey = manifestKey
            self.files = files
            self.bytes = bytes
            self.error = error
        }
    }

    /// `GET /v1/snapshots/{id}`
    package struct SnapshotDetail: Codable, Sendable, Hashable {
        package var summary: SnapshotSummary
        package var keyspaces: [String]
        package var tables: [String]
        package var nodes: [NodeSnapshot]

        package init(
            summary: SnapshotSummary, keyspaces: [String], tables: [String], nodes: [NodeSnapshot]
        ) {
            self.summary = summary
            self.keyspaces = keyspaces
            self.tables = tables
            self.nodes = nodes
        }
    }

    /// One SSTable of a snapshot, with its component files: `GET /v1/snapshots/{id}/sstables`.
    package struct SnapshotSSTable: Codable, Sendable, Hashable {
        package struct Component: Codable, Sendable, Hashable {
            package var fileName: String
            package var size: Int64
            package var sha256: String
            package var objectKey: String

            package init(fileName: String, size: Int64, sha256: String, objectKey: String) {
                self.fileName = fileName
                self.size = size
                self.sha256 = sha256
                self.objectKey = objectKey
            }
        }
        package var hostID: HostID
        package var hostname: String
        package var keyspace: String
        package var table: String
        package var tableID: TableID?
        package var sstable: String
        /// The secondary index the SSTable belongs to, restored into `.<index>/`.
        package var index: String?
        package var components: [Component]

        package init(
            hostID: HostID, hostname: String, keyspace: String, table: String, tableID: TableID?,
            sstable: String, index: String? = nil, components: [Component]
        ) {
            self.index = index
            self.hostID = hostID
            self.hostname = hostname
            self.keyspace = keyspace
            self.table = table
            self.tableID = tableID
            self.sstable = sstable
            self.components = components
        }
    }

    /// One page of a list answer: `{"items": [...], "next": "<cursor>" | null}`. Pass `next` as
    /// `?after=` to get the following page; `next` is null on the last page. Cursors are opaque
    /// and only valid for the same endpoint and filters.
    package struct Page<Item: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
        package var items: [Item]
        package var next: String?

        package init(items: [Item], next: String?) {
            self.items = items
            self.next = next
        }

        private enum CodingKeys: String, CodingKey { case items, next }

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            items = try c.decode([Item].self, forKey: .items)
            next = try c.decodeIfPresent(String.self, forKey: .next)
        }

        /// `next` is always present, null on the last page.
        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(items, forKey: .items)
            try c.encode(next, forKey: .next)
        }
    }

    /// `?limit=` of a paged endpoint: the default when absent and the largest accepted value.
    package struct PageLimit: Sendable, Hashable {
        package var defaultValue: Int
        package var maximum: Int

        package init(defaultValue: Int, maximum: Int) {
            self.defaultValue = defaultValue
            self.maximum = maximum
        }

        /// `GET /v1/snapshots/{id}/sstables`, counted in SSTables.
        package static let snapshotSSTables = PageLimit(defaultValue: 5_000, maximum: 50_000)
        /// `GET /v1/snapshots`.
        package static let snapshots = PageLimit(defaultValue: 500, maximum: 5_000)
        /// `GET /v1/nodes/{node}/sstables`.
        package static let liveSSTables = PageLimit(defaultValue: 5_000, maximum: 50_000)
    }

    /// `GET /v1/nodes`
    package struct Node: Codable, Sendable, Hashable {
        package var hostID: HostID
        package var hostname: String
        package var datacenter: String
        package var rack: String
        package var cassandraVersion: String
        package var registeredAt: Date
        package var lastHeartbeat: Date?
        /// Agent clock minus coordinator clock at the last heartbeat, seconds.
        package var clockOffsetSeconds: Double?
        package var queuedFiles: Int
        package var oldestQueuedAge: Double?

        package init(
            hostID: HostID, hostname: String, datacenter: String, rack: String, cassandraVersion: String,
            registeredAt: Date, lastHeartbeat: Date?, clockOffsetSeconds: Double?, queuedFiles: Int,
            oldestQueuedAge: Double?
        ) {
            self.hostID = hostID
            self.hostname = hostname
            self.datacenter = datacenter
            self.rack = rack
            self.cassandraVersion = cassandraVersion
            self.registeredAt = registeredAt
            self.lastHeartbeat = lastHeartbeat
            self.clockOffsetSeconds = clockOffsetSeconds
            self.queuedFiles = queuedFiles
            self.oldestQueuedAge = oldestQueuedAge
        }
    }

    /// `GET /v1/node-snapshots`: a snapshot taken outside cassnap on one node, whose manifest the
    /// agent wrote and the coordinator verified in the bucket.
    package struct OperatorSnapshot: Codable, Sendable, Hashable {
        package var hostID: HostID
        package var hostname: String?
        package var tag: SnapshotTag
        package var manifestKey: String
        package var takenAt: Date
        package var files: Int
        package var bytes: Int64
        /// When the coordinator last verified the manifest.
        package var verifiedAt: Date
        /// Why the manifest did not verify; nil when it did.
        package var error: String?

        package init(
            hostID: HostID, hostname: String?, tag: SnapshotTag, manifestKey: String, takenAt: Date,
            files: Int,
            bytes: Int64, verifiedAt: Date, error: String?
        ) {
            self.hostID = hostID
            self.hostname = hostname
            self.tag = tag
            self.manifestKey = manifestKey
            self.takenAt = takenAt
            self.files = files
            self.bytes = bytes
            self.verifiedAt = verifiedAt
            self.error = error
        }
    }

    /// `GET /v1/nodes/{node}/sstables?at=T`
    /// `GET /v1/nodes/{node}/point-in-time?at=T`: what was live on the node at T, as a node
    /// manifest the restore planner takes like any other, and the stretches of history known.
    package struct PointInTime: Codable, Sendable, Hashable {
        package var manifest: NodeManifest
        package var history: [AgentAPI.LiveHistory]

        package init(manifest: NodeManifest, history: [AgentAPI.LiveHistory]) {
            self.manifest = manifest
            self.history = history
        }
    }

    package struct LiveSSTable: Codable, Sendable, Hashable {
        package var keyspace: String
        package var table: String
        package var tableID: TableID?
        package var sstable: String
        package var appearedAt: Date
        package var disappearedAt: Date?

        package init(
            keyspace: String, table: String, tableID: TableID?, sstable: String, appearedAt: Date,
            disappearedAt: Date?
        ) {
            self.keyspace = keyspace
            self.table = table
            self.tableID = tableID
            self.sstable = sstable
            self.appearedAt = appearedAt
            self.disappearedAt = disappearedAt
        }
    }

    /// `POST /v1/catalog/rebuild`
    package struct RebuildResult: Codable, Sendable, Hashable {
        package var snapshots: Int
        package var nodes: Int
        package var files: Int
        /// Schedules brought back from `schedules/<name>.json`.
        package var schedules: Int
        /// Records and manifests in the bucket that could not be read, so were left out.
        package var skipped: [SkippedObject]

        package init(
            snapshots: Int, nodes: Int, files: Int, schedules: Int = 0, skipped: [SkippedObject] = []
        ) {
            self.snapshots = snapshots
            self.nodes = nodes
            self.files = files
            self.schedules = schedules
            self.skipped = skipped
        }

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            snapshots = try c.decode(Int.self, forKey: .snapshots)
            nodes = try c.decode(Int.self, forKey: .nodes)
            files = try c.decode(Int.self, forKey: .files)
            schedules = try c.decodeIfPresent(Int.self, forKey: .schedules) ?? 0
            skipped = try c.decodeIfPresent([SkippedObject].self, forKey: .skipped) ?? []
        }
    }

    /// `GET /v1/repository`: where the backups live; the CLI opens the store with its own
    /// credentials to verify and restore. Keys are relative to the store URL, which carries
    /// any prefix.
    package struct RepositoryInfo: Codable, Sendable, Hashable {
        package var store: String
        package var cluster: String

        package init(store: String, cluster: String) {
            self.store = store
            self.cluster = cluster
        }
    }

    /// An object of the bucket a rebuild could not read, and why.
    package struct SkippedObject: Codable, Sendable, Hashable {
        package var key: String
        package var reason: String

        package init(key: String, reason: String) {
            self.key = key
            self.reason = reason
        }
    }
}
