import Foundation

extension FakeNodetool {
    package struct SnapshotResult: Sendable {
        package struct TableSnapshot: Sendable {
            package var keyspace: String
            package var table: String
            package var tableID: String
            /// `<table dir>/snapshots/<tag>` in every data directory that got one; the first holds
            /// `manifest.json` and `schema.cql`.
            package var directories: [URL]
            /// What `manifest.json` lists: `Data.db` names, `.<index>/`-relative for indexes.
            package var dataFiles: [String]
            /// Every hard link made.
            package var links: [URL]
        }

        package var tag: String
        package var createdAt: Date
        package var tables: [TableSnapshot]
        package var linkCount: Int { tables.reduce(0) { $0 + $1.links.count } }
    }

    /// `nodetool snapshot`, as Cassandra 4.1 `ColumnFamilyStore.snapshotWithoutFlush` lays it out:
    /// for each table, under the table-directory lock, `mkdir snapshots/<tag>` and hard-link every
    /// component of every live SSTable (secondary indexes into `snapshots/<tag>/.<index>/`), then
    /// write `manifest.json` and, outside system keyspaces, `schema.cql`.
    ///
    /// `tables` not empty means `-kt`; otherwise `keyspaces` (all when empty). The pre-snapshot
    /// flush is a no-op: the fake has no memtables.
    @discardableResult
    package func snapshot(
        tag: String? = nil, keyspaces: [String] = [], tables requested: [TableName] = [],
        ttl: TimeInterval? = nil,
        now: Date = Date()
    ) throws -> SnapshotResult {
        let tag = tag ?? String(Int64(now.timeIntervalSince1970 * 1000))
        if tag.isEmpty { throw CommandError.failure("You must supply a snapshot name.") }
        for forbidden in [":", "/"] where tag.contains(forbidden) {
            throw CommandError.failure("Snapshot name cannot contain \(forbidden)")
        }
        let selected = try selectTables(keyspaces: keyspaces, tables: requested)
        // Cassandra checks the whole keyspace (or each named table) before linking anything.
        let checked = requested.isEmpty ? try selectTables(keyspaces: keyspaces, tables: []) : selected
        for table in checked {
            for directory in table.directories
            where FS.exists(directory.appendingPathComponent("snapshots/\(tag)").path) {
                throw CommandError.failure("Snapshot \(tag) already exists.")
            }
        }

        var result = SnapshotResult(tag: tag, createdAt: now, tables: [])
        for table in selected {
            result.tables.append(try snapshot(table, tag: tag, createdAt: now, ttl: ttl))
        }
        return result
    }

    private func snapshot(
        _ table: Table, tag: String, createdAt: Date, ttl: TimeInterval?
    ) throws -> SnapshotResult.TableSnapshot {
        var snapshot = SnapshotResult.TableSnapshot(
            keyspace: table.keyspace, table: table.name, tableID: table.id, directories: [], dataFiles: [],
            links: [])
        try DirectoryLock.with(table.directories.map(\.path)) {
            for (position, tableDirectory) in table.directories.enumerated() {
                let snapshotDirectory = tableDirectory.appendingPathComponent("snapshots")
                    .appendingPathComponent(tag)
                var created = false
                func link(_ sstables: [SSTableFixture], into directory: URL, relativePrefix: String) throws {
                    guard !sstables.isEmpty else { return }
                    if !created {
                        try FS.makeDirectory(snapshotDirectory.path)
                        created = true
                    }
                    try FS.makeDirectory(directory.path)
                    for sstable in sstables {
                        for file in sstable.files {
                            let target = directory.appendingPathComponent(file.name)
                            try FS.link(file.url.path, target.path)
                            snapshot.links.append(target)
                        }
                        snapshot.dataFiles.append(relativePrefix + sstable.prefix + "Data.db")
                    }
                }
                try link(
                    liveSSTables(in: tableDirectory, keyspace: table.keyspace, table: table.name, index: nil),
                    into: snapshotDirectory, relativePrefix: "")
                for index in try indexNames(in: tableDirectory) {
                    try link(
                        liveSSTables(
                            in: tableDirectory.appendingPathComponent("." + index), keyspace: table.keyspace,
                            table: table.name, index: index),
                        into: snapshotDirectory.appendingPathComponent("." + index),
                        relativePrefix: ".\(index)/")
                }
                // 1.1–1.2 leveled compaction: `Directories.snapshotLeveledManifest` links
                // `<table>.json` beside the SSTables.
                let leveled = tableDirectory.appendingPathComponent(
                    CassandraExtraFiles.leveledManifestName(table: table.name))
                if FS.exists(leveled.path) {
                    if !created {
                        try FS.makeDirectory(snapshotDirectory.path)
                        created = true
                    }
                    let target = snapshotDirectory.appendingPathComponent(leveled.lastPathComponent)
                    try FS.link(leveled.path, target.path)
                    snapshot.links.append(target)
                }
                // The manifest goes to the first data directory even for a table with no SSTables.
                if position == 0 && !created {
                    try FS.makeDirectory(snapshotDirectory.path)
                    created = true
                }
                if created { snapshot.directories.append(snapshotDirectory) }
            }
        }

        // `manifest.json` and `schema.cql` came with 2.x and 3.x; a 1.x snapshot is links only.
        if majorVersion == 1 { return snapshot }
        let manifestDirectory = snapshot.directories[0]
        let manifest = Self.manifestJSON(
            files: snapshot.dataFiles, createdAt: createdAt,
            expiresAt: ttl.map { createdAt.addingTimeInterval($0) })
        try FS.writeFile(manifestDirectory.appendingPathComponent("manifest.json").path, manifest)
        if !table.isSystem {
            let indexes = try indexNames(in: table.directories[0])
            try FS.writeFile(
                manifestDirectory.appendingPathComponent("schema.cql").path,
                Self.schemaCQL(keyspace: table.keyspace, table: table.name, id: table.id, indexes: indexes))
        }
        return snapshot
    }

    /// Jackson's pretty printer, as in Cassandra 4.1 `SnapshotManifest`.
    static func manifestJSON(files: [String], createdAt: Date, expiresAt: Date?) -> String {
        let list = files.isEmpty ? "[ ]" : "[ " + files.map(jsonString).joined(separator: ", ") + " ]"
        return """
            {
              "files" : \(list),
              "created_at" : \(jsonString(timestamp(createdAt))),
              "expires_at" : \(expiresAt.map { jsonString(timestamp($0)) } ?? "null"),
              "ephemeral" : false
            }
            """
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// `2024-05-01T12:00:00.123Z`, like `Instant.toString()` with millisecond precision.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// A plausible `schema.cql` as Cassandra 4.1 writes it next to a snapshot.
    package static func schemaCQL(keyspace: String, table: String, id: String, indexes: [String] = [])
        -> String
    {
        var cql = """
            CREATE TABLE IF NOT EXISTS \(keyspace).\(table) (
                id uuid,
                bucket int,
                ts timestamp,
                payload blob,
                value text,
                PRIMARY KEY ((id, bucket), ts)
            ) WITH ID = \(CassandraNaming.uuidString(hex: id))
                AND CLUSTERING ORDER BY (ts DESC)
                AND additional_write_policy = '99p'
                AND bloom_filter_fp_chance = 0.01
                AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
                AND cdc = false
                AND comment = ''
                AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32', 'min_threshold': '4'}
                AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}
                AND memtable = 'default'
                AND crc_check_chance = 1.0
                AND default_time_to_live = 0
                AND extensions = {}
                AND gc_grace_seconds = 864000
                AND max_index_interval = 2048
                AND memtable_flush_period_in_ms = 0
                AND min_index_interval = 128
                AND read_repair = 'BLOCKING'
                AND speculative_retry = '99p';

            """
        for index in indexes {
            cql += "CREATE INDEX IF NOT EXISTS \(index) ON \(keyspace).\(table) (value);\n"
        }
        return cql
    }

    /// `nodetool clearsnapshot`: `tag` nil clears every snapshot (`--all`). A missing tag is not
    /// an error. Returns the snapshot directories removed.
    @discardableResult
    package func clearSnapshot(tag: String?, keyspaces: [String] = []) throws -> [URL] {
        var removed: [URL] = []
        for table in try selectTables(keyspaces: keyspaces, tables: []) {
            for directory in table.directories {
                let snapshots = directory.appendingPathComponent("snapshots")
                guard FS.isDirectory(snapshots.path) else { continue }
                for entry in try FS.list(snapshots.path)
                where entry.isDirectory && (tag == nil || entry.name == tag) {
                    let url = snapshots.appendingPathComponent(entry.name)
                    try FS.removeTree(url.path)
                    removed.append(url)
                }
            }
        }
        return removed
    }

    package struct SnapshotDetails: Sendable, Hashable {
        package var tag: String
        package var keyspace: String
        package var table: String
        /// Bytes only the snapshot holds (files no longer live).
        package var trueSize: Int
        package var sizeOnDisk: Int
        package var createdAt: Date?
        package var expiresAt: Date?
    }

    /// `nodetool listsnapshots`, sorted by tag, keyspace and table.
    package func listSnapshots() throws -> [SnapshotDetails] {
        var byKey: [String: SnapshotDetails] = [:]
        for table in try tables() {
            for directory in table.directories {
                let snapshots = directory.appendingPathComponent("snapshots")
                guard FS.isDirectory(snapshots.path) else { continue }
                for entry in try FS.list(snapshots.path) where entry.isDirectory {
                    let key = "\(entry.name)\u{0}\(table.keyspace)\u{0}\(table.name)"
                    var details =
                        byKey[key]
                        ?? SnapshotDetails(
                            tag: entry.name, keyspace: table.keyspace, table: table.name, trueSize: 0,
                            sizeOnDisk: 0)
                    let snapshotDirectory = snapshots.appendingPathComponent(entry.name)
                    try accumulateSizes(snapshotDirectory, live: directory, into: &details)
                    let manifest = snapshotDirectory.appendingPathComponent("manifest.json")
                    if let data = try? FS.readFile(manifest.path),
                        let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any]
                    {
                        details.createdAt = (object["created_at"] as? String).flatMap(Self.parseTimestamp)
                        details.expiresAt = (object["expires_at"] as? String).flatMap(Self.parseTimestamp)
                    }
                    byKey[key] = details
                }
            }
        }
        return byKey.values.sorted { ($0.tag, $0.keyspace, $0.table) < ($1.tag, $1.keyspace, $1.table) }
    }

    private func accumulateSizes(_ snapshotDirectory: URL, live: URL, into details: inout SnapshotDetails)
        throws
    {
        for entry in try FS.list(snapshotDirectory.path) {
            let path = snapshotDirectory.appendingPathComponent(entry.name)
            if entry.isDirectory {
                try accumulateSizes(path, live: live.appendingPathComponent(entry.name), into: &details)
                continue
            }
            guard let st = FS.status(path.path) else { continue }
            details.sizeOnDisk += Int(st.st_size)
            let liveStatus = FS.status(live.appendingPathComponent(entry.name).path)
            if liveStatus?.st_ino != st.st_ino || liveStatus?.st_dev != st.st_dev {
                details.trueSize += Int(st.st_size)
            }
        }
    }
}
