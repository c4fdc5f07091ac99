import CassnapCore
import Foundation

/// What agents send the coordinator and get back. Every report carries its own id, so a
/// report re-sent after a timeout (or from the outbox after a restart) changes nothing twice.
/// Paths are under `/v1/agents/{hostID}`; see coordinator/openapi.yaml.
package enum AgentAPI {
    /// What an agent reports, spelled once for both sides: the last segment of the report's path
    /// (`POST /v1/agents/{hostID}/<kind>`), the agent's outbox `kind` column, and the
    /// coordinator's ingestion records and `/metrics` label.
    package enum ReportKind: String, Sendable, CaseIterable {
        case files
        case sstableEvents = "sstable-events"
        case manifests
        /// A snapshot taken outside cassnap whose node manifest the agent wrote.
        case nodeSnapshots = "node-snapshots"

        /// The report's path below `/v1/agents/{hostID}/`.
        package var pathSegment: String { rawValue }
    }

    /// `POST /v1/agents/register`
    package struct Registration: Codable, Sendable, Hashable {
        package var hostID: HostID
        package var hostname: String
        package var cluster: String
        package var datacenter: String
        package var rack: String
        package var tokens: [String]
        package var cassandraVersion: String
        package var dataDirectories: [String]
        package var agentVersion: String

        package init(
            hostID: HostID, hostname: String, cluster: String, datacenter: String, rack: String,
            tokens: [String],
            cassandraVersion: String, dataDirectories: [String], agentVersion: String
        ) {
            self.hostID = hostID
            self.hostname = hostname
            self.cluster = cluster
            self.datacenter = datacenter
            self.rack = rack
            self.tokens = tokens
            self.cassandraVersion = cassandraVersion
            self.dataDirectories = dataDirectories
            self.agentVersion = agentVersion
        }
    }

    /// `POST /v1/agents/{hostID}/heartbeat`: the agent's clock and queue, so the coordinator
    /// knows each node's clock offset and upload lag.
    package struct Heartbeat: Codable, Sendable, Hashable {
        package var agentTime: Date
        /// Files waiting for upload, and the age of the oldest one in seconds.
        package var queuedFiles: Int
        package var oldestQueuedAge: Double?
        package var uploadedFiles: Int
        package var uploadedBytes: Int64
        /// Over which stretch (agent clock) the `sstable-events` the coordinator has received
        /// are complete; absent while the agent is not watching (starting, after an inotify
        /// overflow, out of watches). `restore --at T` needs T inside a stretch.
        package var liveHistory: LiveHistory?

        package init(
            agentTime: Date, queuedFiles: Int, oldestQueuedAge: Double?, uploadedFiles: Int,
            uploadedBytes: Int64, liveHistory: LiveHistory? = nil
        ) {
            self.agentTime = agentTime
            self.queuedFiles = queuedFiles
            self.oldestQueuedAge = oldestQueuedAge
            self.uploadedFiles = uploadedFiles
            self.uploadedBytes = uploadedBytes
            self.liveHistory = liveHistory
        }
    }

    /// `[since, through]`: every live SSTable that appeared or disappeared in it is reported.
    package struct LiveHistory: Codable, Sendable, Hashable {
        package var since: Date
        package var through: Date

        package init(since: Date, through: Date) {
            self.since = since
            self.through = through
        }
    }

    package struct HeartbeatReply: Codable, Sendable, Hashable {
        package var coordinatorTime: Date
        package init(coordinatorTime: Date) { self.coordinatorTime = coordinatorTime }
    }

    /// `GET /v1/agents/{hostID}/commands?wait=SECONDS` long-polls for these.
    package struct Command: Codable, Sendable, Hashable {
        package var id: String
        package var snapshot: SnapshotCommand?

        package init(id: String, snapshot: SnapshotCommand?) {
            self.id = id
            self.snapshot = snapshot
        }
    }

    /// Take `nodetool snapshot -t tag` at `at` by the agent's own clock, upload what the pool
    /// lacks, write the node manifest last, report it.
    package struct SnapshotCommand: Codable, Sendable, Hashable {
        package var snapshotID: SnapshotID
        package var tag: SnapshotTag
        package var at: Date
        package var deadline: Date
        package var keyspaces: [String]
        /// `keyspace.table`
        package var tables: [String]
        package var clearAfterUpload: Bool

        package init(
            snapshotID: SnapshotID, tag: SnapshotTag, at: Date, deadline: Date, keyspaces: [String],
            tables: [String],
            clearAfterUpload: Bool
        ) {
            self.snapshotID = snapshotID
            self.tag = tag
            self.at = at
            self.deadline = deadline
            self.keyspaces = keyspaces
            self.tables = tables
            self.clearAfterUpload = clearAfterUpload
        }
    }

    /// `POST /v1/agents/{hostID}/files`: objects now in the node's pool.
    package struct FileReport: Codable, Sendable, Hashable {
        package var keyspace: String
        package var table: String
        package var tableID: TableID?
        package var indexName: String?
        package var fileName: String
        package var size: Int64
        package var sha256: String
        package var objectKey: String
        package var uploadedAt: Date

        package init(
            keyspace: String, table: String, tableID: TableID?, indexName: String?, fileName: String,
            size: Int64,
            sha256: String, objectKey: String, uploadedAt: Date
        ) {
            self.keyspace = keyspace
            self.table = table
            self.tableID = tableID
            self.indexName = indexName
            self.fileName = fileName
            self.size = size
            self.sha256 = sha256
            self.objectKey = objectKey
            self.uploadedAt = uploadedAt
        }
    }

    /// `POST /v1/agents/{hostID}/sstable-events`: a live SSTable appeared or disappeared, so
    /// the coordinator can answer "what was live on this node at T".
    package struct SSTableEvent: Codable, Sendable, Hashable {
        package enum Kind: String, Codable, Sendable { case appeared, disappeared }
        package var kind: Kind
        package var keyspace: String
        package var table: String
        package var tableID: TableID?
        /// The SSTable's name without component, e.g. `nb-42-big`.
        package var sstable: String
        package var at: Date

        package init(
            kind: Kind, keyspace: String, table: String, tableID: TableID?, sstable: String, at: Date
        ) {
            self.kind = kind
            self.keyspace = keyspace
            self.table = table
            self.tableID = tableID
            self.sstable = sstable
            self.at = at
        }
    }

    /// `POST /v1/agents/{hostID}/manifests`: the node manifest for a snapshot is in the bucket
    /// (or the node failed and says why).
    package struct ManifestReport: Codable, Sendable, Hashable {
        package var snapshotID: SnapshotID
        package var tag: SnapshotTag
        package var manifestKey: String?
        package var takenAt: Date?
        package var files: Int
        package var bytes: Int64
        package var error: String?

        package init(
            snapshotID: SnapshotID, tag: SnapshotTag, manifestKey: String?, takenAt: Date?, files: Int,
            bytes: Int64,
            error: String?
        ) {
            self.snapshotID = snapshotID
            self.tag = tag
            self.manifestKey = manifestKey
            self.takenAt = takenAt
            self.files = files
            self.bytes = bytes
            self.error = error
        }
    }

    /// `POST /v1/agents/{hostID}/node-snapshots`: the agent wrote the node manifest of a
    /// snapshot taken outside cassnap (`nodetool snapshot -t X`) once it settled.
    package struct NodeSnapshotReport: Codable, Sendable, Hashable {
        package var tag: SnapshotTag
        package var manifestKey: String
        package var takenAt: Date
        package var files: Int
        package var bytes: Int64

        package init(tag: SnapshotTag, manifestKey: String, takenAt: Date, files: Int, bytes: Int64) {
            self.tag = tag
            self.manifestKey = manifestKey
            self.takenAt = takenAt
            self.files = files
            self.bytes = bytes
        }
    }

    /// The answer to every report: `duplicate` when this `reportID` was already applied, in
    /// which case nothing changed.
    package struct ReportReceipt: Codable, Sendable, Hashable {
        package var reportID: String
        package var accepted: Int
        package var duplicate: Bool

        package init(reportID: String, accepted: Int, duplicate: Bool) {
            self.reportID = reportID
            self.accepted = accepted
            self.duplicate = duplicate
        }
    }

    /// The envelope of every report: an id for idempotency and a batch of items.
    package struct Batch<Item: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
        package var reportID: String
        package var items: [Item]

        package init(reportID: String, items: [Item]) {
            self.reportID = reportID
            self.items = items
        }
    }
}

/// Errors the API answers with, as JSON: `{"error": {"code": "...", "message": "..."}}`.
package struct APIErrorBody: Codable, Sendable, Hashable {
    package struct Detail: Codable, Sendable, Hashable {
        package var code: String
        package var message: String
    }
    package var error: Detail

    package init(code: String, message: String) { error = Detail(code: code, message: message) }
}

/// One JSON coding for the whole API: ISO 8601 with milliseconds, sorted keys.
package enum APICoding {
    package static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(InstantFormat.format(date))
        }
        return e
    }

    package static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = InstantFormat.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: c,
                    debugDescription:
                        "\(text.debugDescription) is not an ISO 8601 instant such as 2026-11-23T02:00:00.000Z"
                )
            }
            return date
        }
        return d
    }
}
