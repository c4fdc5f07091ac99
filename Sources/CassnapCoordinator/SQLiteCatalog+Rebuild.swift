import CassnapAPI
import CassnapCore
import Foundation
import GRDB

/// The bucket's snapshots in place of the catalog's.
extension SQLiteCatalog: RebuildCatalog {
    package func replaceSnapshots(with contents: BucketContents) async throws -> AdminAPI.RebuildResult {
        let prepared = try contents.records.map { record in
            (record: record, keyspaces: try json(record.keyspaces), tables: try json(record.tables))
        }
        return try await writer.write { db in
            try db.execute(sql: "DELETE FROM snapshots")
            var files = 0
            var hosts: Set<HostID> = []
            for (record, keyspaces, tables) in prepared {
                let seq = try Self.insertSnapshot(db, record, keyspaces: keyspaces, tables: tables)
                try db.execute(
                    sql: "UPDATE snapshots SET mirrored_revision = revision WHERE seq = ?", arguments: [seq])
                for (host, manifest) in contents.manifests[record.id] ?? [:] {
                    hosts.insert(host)
                    let nodeFiles = SnapshotFile.files(of: manifest)
                    files += nodeFiles.count
                    try Self.insertFiles(db, seq: seq, host: host.description, files: nodeFiles)
                    try db.execute(
                        sql:
                            "UPDATE snapshot_nodes SET files = ?, bytes = ? WHERE snapshot_seq = ? AND host_id = ?",
                        arguments: [
                            nodeFiles.count, nodeFiles.reduce(0) { $0 + $1.size }, seq, host.description,
                        ])
                    try Self.restorePool(db, host: host, manifest: manifest)
                }
            }
            return AdminAPI.RebuildResult(snapshots: prepared.count, nodes: hosts.count, files: files)
        }
    }

    /// A node and its pool objects as its manifest describes them, for nodes this catalog
    /// has not seen (a fresh database after a rebuild).
    private static func restorePool(_ db: Database, host: HostID, manifest: NodeManifest) throws {
        let n = manifest.node
        try db.execute(
            sql: """
                INSERT INTO nodes (host_id, hostname, cluster, datacenter, rack, tokens, cassandra_version,
                    data_directories, agent_version, registered_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '', ?)
                ON CONFLICT(host_id) DO NOTHING
                """,
            arguments: [
                host.description, n.hostname, manifest.cluster.rawValue, n.datacenter, n.rack,
                String(decoding: try JSONEncoder().encode(n.tokens), as: UTF8.self), n.cassandraVersion,
                seconds(manifest.takenAt),
            ])
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO pool_files (host_id, object_key, keyspace, table_name, table_id, index_name, file_name,
                    size, sha256, uploaded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(host_id, object_key) DO NOTHING
                """)
        for f in SnapshotFile.files(of: manifest) {
            try insert.execute(arguments: [
                host.description, f.objectKey, f.keyspace, f.table, f.tableID?.description, f.index,
                f.fileName,
                f.size, f.sha256, seconds(manifest.takenAt),
            ])
        }
    }
}
