import CassnapAPI
import CassnapCore
import Foundation
import GRDB

/// The SSTables of a snapshot and the SSTables live on a node; `pointInTimeManifest` is in
/// `SQLiteCatalog+PointInTime.swift`.
extension SQLiteCatalog: QueryCatalog {
    package func sstables(_ id: SnapshotID, filter: SSTableFilter, page: PageRequest<SSTableKey>) async throws
        -> CatalogPage<AdminAPI.SnapshotSSTable, SSTableKey>
    {
        try await writer.read { db in
            guard
                let seq = try Int64.fetchOne(
                    db, sql: "SELECT seq FROM snapshots WHERE id = ?", arguments: [id.description])
            else { return CatalogPage(items: [], next: nil) }
            let query = Self.sstablesQuery(seq: seq, filter: filter, after: page.after)
            var result: [AdminAPI.SnapshotSSTable] = []
            result.reserveCapacity(min(page.limit, 1024))
            var lastKey: SSTableKey?
            var next: SSTableKey?
            var hostCache: [String: HostID] = [:]
            var tableIDCache: [String: TableID] = [:]
            // Rows are component files in SSTable order; stepping stops at the first file of the
            // SSTable after the page, so a page reads O(limit) rows whatever the set's size.
            let cursor = try Row.fetchCursor(db, sql: query.sql, arguments: query.arguments)
            while let row = try cursor.next() {
                let key = SSTableKey(
                    host: row[0], keyspace: row[2], table: row[3], index: row[4], sstable: row[5])
                let component = AdminAPI.SnapshotSSTable.Component(
                    fileName: row[6], size: row[8], sha256: row[9], objectKey: row[10])
                if key == lastKey {
                    result[result.count - 1].components.append(component)
                    continue
                }
                if result.count == page.limit {
                    next = lastKey
                    break
                }
                let host: HostID
                if let cached = hostCache[key.host] {
                    host = cached
                } else {
                    host = try HostID(key.host)
                    hostCache[key.host] = host
                }
                var tableID: TableID?
                if let text = row[7] as String? {
                    if let cached = tableIDCache[text] {
                        tableID = cached
                    } else {
                        tableID = try TableID(text)
                        tableIDCache[text] = tableID
                    }
                }
                result.append(
                    AdminAPI.SnapshotSSTable(
                        hostID: host, hostname: row[1] ?? "", keyspace: key.keyspace, table: key.table,
                        tableID: tableID, sstable: key.sstable, index: key.index.isEmpty ? nil : key.index,
                        components: [component]))
                lastKey = key
            }
            return CatalogPage(items: result, next: next)
        }
    }

    /// The SQL of one `snapshot sstables` page. It reads one index in the list's order: the
    /// primary key (snapshot, node, keyspace, table, index, SSTable, file), or with a keyspace
    /// and a table but no node, `snapshot_files_by_table`. Filter columns that lead the index
    /// are equality constraints of the seek; the cursor is a row-value `>` on the index columns
    /// that follow; other filter columns are written `+col = ?` so SQLite neither picks another
    /// index for them nor adds a sort (EXPLAIN QUERY PLAN: one SEARCH, no TEMP B-TREE).
    package static func sstablesQuery(seq: Int64, filter: SSTableFilter, after: SSTableKey?) -> (
        sql: String, arguments: StatementArguments
    ) {
        let fixed: [String: String] = [
            "host_id": filter.host?.description, "keyspace": filter.keyspace, "table_name": filter.table,
        ].compactMapValues { $0 }
        let byTable = filter.host == nil && filter.keyspace != nil && filter.table != nil
        let columns =
            byTable
            ? ["keyspace", "table_name", "host_id", "index_name", "sstable"]
            : ["host_id", "keyspace", "table_name", "index_name", "sstable"]
        let seek = columns.prefix { fixed[$0] != nil }
        var sql = """
            SELECT f.host_id, n.hostname, f.keyspace, f.table_name, f.index_name, f.sstable, f.file_name,
                f.table_id, f.size, f.sha256, f.object_key
            FROM snapshot_files f \(byTable ? "INDEXED BY snapshot_files_by_table" : "NOT INDEXED")
            JOIN snapshot_nodes n ON n.snapshot_seq = f.snapshot_seq AND n.host_id = f.host_id
            WHERE f.snapshot_seq = ?
            """
        var arguments: StatementArguments = [seq]
        for column in seek {
            sql += " AND f.\(column) = ?"
            arguments += [fixed[column]]
        }
        for column in columns.dropFirst(seek.count) {
            if let value = fixed[column] {
                sql += " AND +f.\(column) = ?"
                arguments += [value]
            }
        }
        if let after {
            let values: [String: String] = [
                "host_id": after.host, "keyspace": after.keyspace, "table_name": after.table,
                "index_name": after.index, "sstable": after.sstable,
            ]
            let rest = columns.dropFirst(seek.count)
            sql += " AND (\(rest.map { "f.\($0)" }.joined(separator: ", "))) > ("
            sql += rest.map { _ in "?" }.joined(separator: ", ") + ")"
            for column in rest { arguments += [values[column]] }
        }
        sql += " ORDER BY f.host_id, f.keyspace, f.table_name, f.index_name, f.sstable, f.file_name"
        return (sql, arguments)
    }

    /// EXPLAIN QUERY PLAN of a `snapshot sstables` page, one line per plan step: for tests.
    package func sstablesQueryPlan(filter: SSTableFilter, after: SSTableKey?) async throws -> [String] {
        let query = Self.sstablesQuery(seq: 1, filter: filter, after: after)
        return try await writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query.sql, arguments: query.arguments).map {
                $0["detail"]
            }
        }
    }

    package func liveSSTables(_ host: HostID, at instant: Date, page: PageRequest<LiveSSTableKey>)
        async throws
        -> CatalogPage<AdminAPI.LiveSSTable, LiveSSTableKey>
    {
        var arguments: StatementArguments = [
            "t": seconds(instant), "host": host.description, "limit": page.limit + 1,
        ]
        var after = ""
        if let key = page.after {
            // Groups stream in the order of sstable_events_by_node; the cursor seeks into it.
            after = " AND (keyspace, table_name, sstable) > (:keyspace, :table, :sstable)"
            arguments += ["keyspace": key.keyspace, "table": key.table, "sstable": key.sstable]
        }
        let sql = """
            SELECT keyspace, table_name, MAX(table_id) AS table_id, sstable,
                MAX(CASE WHEN kind = 'appeared' AND at <= :t THEN at END) AS appeared,
                MAX(CASE WHEN kind = 'disappeared' AND at <= :t THEN at END) AS gone,
                MIN(CASE WHEN kind = 'disappeared' AND at > :t THEN at END) AS later
            FROM sstable_events WHERE host_id = :host\(after)
            GROUP BY keyspace, table_name, sstable
            HAVING appeared IS NOT NULL AND (gone IS NULL OR gone < appeared)
            ORDER BY keyspace, table_name, sstable
            LIMIT :limit
            """
        let finalArguments = arguments
        return try await writer.read { db in
            var items = try Row.fetchAll(db, sql: sql, arguments: finalArguments).map { row in
                AdminAPI.LiveSSTable(
                    keyspace: row["keyspace"], table: row["table_name"],
                    tableID: try (row["table_id"] as String?).map { try TableID($0) },
                    sstable: row["sstable"],
                    appearedAt: date(row["appeared"]), disappearedAt: optionalDate(row["later"]))
            }
            var next: LiveSSTableKey?
            if items.count > page.limit {
                items.removeLast()
                next = items.last.map {
                    LiveSSTableKey(keyspace: $0.keyspace, table: $0.table, sstable: $0.sstable)
                }
            }
            return CatalogPage(items: items, next: next)
        }
    }
}
