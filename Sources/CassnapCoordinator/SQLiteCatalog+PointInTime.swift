import CassnapAPI
import CassnapCore
import Foundation
import GRDB

/// Why a node cannot be restored as it was at an instant.
package enum PointInTimeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The node's live-SSTable history does not cover the instant: the agent was not
    /// watching then (down, starting, after an inotify overflow), or its events have not
    /// reached the coordinator yet.
    case notCovered(host: HostID, at: Date, stretches: [AgentAPI.LiveHistory])
    /// SSTables live at the instant whose components are not all in the node's pool.
    case incomplete(host: HostID, at: Date, sstables: [String])

    package var description: String {
        switch self {
        case .notCovered(let host, let at, let stretches):
            let known =
                stretches.isEmpty
                ? "it has none (live-SSTable history needs an agent watching the data directories)"
                : "it covers "
                    + stretches.suffix(5).map {
                        "\(InstantFormat.format($0.since)) to \(InstantFormat.format($0.through))"
                    }.joined(separator: ", ")
                    + (stretches.count > 5 ? " (the last 5 of \(stretches.count))" : "")
            return
                "the live-SSTable history of node \(host) does not cover \(InstantFormat.format(at)): \(known)"
        case .incomplete(let host, let at, let sstables):
            return "\(sstables.count) SSTables live on node \(host) at \(InstantFormat.format(at)) are not "
                + "wholly in the bucket (removed before the agent uploaded them, or live shipping is off): "
                + sstables.prefix(5).joined(separator: "; ") + (sstables.count > 5 ? "; …" : "")
        }
    }
}

extension SQLiteCatalog {
    /// A node manifest of what was live on `host` at `instant`: every SSTable whose `Data.db`
    /// had appeared and not yet disappeared, each with the pool objects of its components.
    /// Index SSTables have no history and are left out (Cassandra rebuilds them). Answers nil
    /// for an unknown node.
    package func pointInTimeManifest(_ host: HostID, at instant: Date) async throws -> AdminAPI.PointInTime? {
        try await writer.read { db in
            guard
                let node = try Row.fetchOne(
                    db, sql: "SELECT * FROM nodes WHERE host_id = ?", arguments: [host.description])
            else { return nil }
            let stretches = try Row.fetchAll(
                db, sql: "SELECT since, through FROM live_history WHERE host_id = ? ORDER BY since",
                arguments: [host.description]
            ).map { AgentAPI.LiveHistory(since: date($0["since"]), through: date($0["through"])) }
            guard stretches.contains(where: { $0.since <= instant && instant <= $0.through }) else {
                throw PointInTimeError.notCovered(host: host, at: instant, stretches: stretches)
            }
            let live = try Self.liveLifetimes(db, host: host, at: instant)
            let pool = try Self.poolComponents(db, host: host)
            var tables: [TableKey: [NodeManifest.SSTable]] = [:]
            var incomplete: [String] = []
            for sstable in live {
                let candidates = pool[PoolKey(table: sstable.table, sstable: sstable.name)] ?? [:]
                var files: [NodeManifest.File] = []
                for (fileName, versions) in candidates.sorted(by: { $0.key < $1.key }) {
                    if let chosen = Self.version(of: versions, for: sstable, at: instant) {
                        files.append(chosen.file)
                    }
                }
                let names = Set(files.map(\.fileName))
                let missing = ["Data.db", "TOC.txt"].filter { !names.contains("\(sstable.name)-\($0)") }
                guard missing.isEmpty else {
                    incomplete.append(
                        "\(sstable.table.keyspace).\(sstable.table.table) \(sstable.name) lacks "
                            + missing.joined(separator: ", "))
                    continue
                }
                tables[sstable.table, default: []].append(
                    NodeManifest.SSTable(name: sstable.name, files: files))
            }
            guard incomplete.isEmpty else {
                throw PointInTimeError.incomplete(host: host, at: instant, sstables: incomplete)
            }
            let manifest = NodeManifest(
                cluster: try ClusterName(node["cluster"] as String),
                node: NodeManifest.Node(
                    hostID: host, hostname: node["hostname"], datacenter: node["datacenter"],
                    rack: node["rack"],
                    tokens: try decodeJSON(node["tokens"]), cassandraVersion: node["cassandra_version"]),
                tag: try SnapshotTag("at-" + InstantFormat.format(instant).filter { $0 != ":" }),
                takenAt: instant, nodeFiles: [],
                tables: tables.sorted { $0.key < $1.key }.map { key, sstables in
                    NodeManifest.Table(
                        keyspace: key.keyspace, table: key.table, tableID: key.tableID, snapshotFiles: [],
                        sstables: sstables.sorted { $0.name < $1.name })
                },
                origin: .node)
            return AdminAPI.PointInTime(manifest: manifest, history: stretches)
        }
    }

    struct TableKey: Hashable, Comparable {
        var keyspace: String
        var table: String
        var tableID: TableID?

        static func < (a: TableKey, b: TableKey) -> Bool {
            (a.keyspace, a.table, a.tableID?.description ?? "") < (
                b.keyspace, b.table, b.tableID?.description ?? ""
            )
        }
    }

    struct PoolKey: Hashable {
        var table: TableKey
        var sstable: String
    }

    struct Lifetime {
        var table: TableKey
        var name: String
        var appeared: Date
        /// The same name's previous disappearance (a reused generation), if any.
        var previousEnd: Date?
        /// The first disappearance after the instant, if any.
        var end: Date?
    }

    struct PooledVersion {
        var file: NodeManifest.File
        var uploadedAt: Date
    }

    /// The SSTables live at `instant`, with the bounds of the lifetime that holds it.
    static func liveLifetimes(_ db: Database, host: HostID, at instant: Date) throws -> [Lifetime] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT keyspace, table_name, table_id, sstable,
                    MAX(CASE WHEN kind = 'appeared' AND at <= :t THEN at END) AS appeared,
                    MAX(CASE WHEN kind = 'disappeared' AND at <= :t THEN at END) AS gone,
                    MIN(CASE WHEN kind = 'disappeared' AND at > :t THEN at END) AS later
                FROM sstable_events WHERE host_id = :host
                GROUP BY keyspace, table_name, table_id, sstable
                HAVING appeared IS NOT NULL AND (gone IS NULL OR gone < appeared)
                ORDER BY keyspace, table_name, sstable
                """,
            arguments: ["t": seconds(instant), "host": host.description]
        ).map { row in
            Lifetime(
                table: TableKey(
                    keyspace: row["keyspace"], table: row["table_name"],
                    tableID: try (row["table_id"] as String?).map { try TableID($0) }),
                name: row["sstable"], appeared: date(row["appeared"]), previousEnd: optionalDate(row["gone"]),
                end: optionalDate(row["later"]))
        }
    }

    /// The node's pooled SSTable components outside index directories, by table and SSTable
    /// name, then by file name: every object uploaded under that name.
    static func poolComponents(_ db: Database, host: HostID) throws -> [PoolKey: [String: [PooledVersion]]] {
        var pool: [PoolKey: [String: [PooledVersion]]] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT keyspace, table_name, table_id, file_name, size, sha256, object_key, uploaded_at
                FROM pool_files WHERE host_id = ? AND index_name IS NULL
                """,
            arguments: [host.description])
        while let row = try rows.next() {
            let fileName: String = row["file_name"]
            guard let parsed = try? SSTableFileName.parse(fileName) else { continue }
            let key = PoolKey(
                table: TableKey(
                    keyspace: row["keyspace"], table: row["table_name"],
                    tableID: try (row["table_id"] as String?).map { try TableID($0) }),
                sstable: parsed.sstableName)
            let version = PooledVersion(
                file: NodeManifest.File(
                    fileName: fileName, size: row["size"], sha256: try SHA256Digest(hex: row["sha256"]),
                    objectKey: row["object_key"]),
                uploadedAt: date(row["uploaded_at"]))
            pool[key, default: [:]][fileName, default: []].append(version)
        }
        return pool
    }

    /// Of the objects uploaded under one component's name, the one of this lifetime: uploaded
    /// after the name's previous life ended and before this one did; the last uploaded by the
    /// instant (a rewritten `Statistics.db`), else the first after it.
    static func version(of versions: [PooledVersion], for life: Lifetime, at instant: Date) -> PooledVersion?
    {
        let inLife = versions.filter { v in
            (life.previousEnd.map { v.uploadedAt > $0 } ?? true)
                && (life.end.map { v.uploadedAt <= $0 } ?? true)
        }
        if let before = inLife.filter({ $0.uploadedAt <= instant }).max(by: { $0.uploadedAt < $1.uploadedAt })
        {
            return before
        }
        return inLife.min { $0.uploadedAt < $1.uploadedAt }
    }
}
