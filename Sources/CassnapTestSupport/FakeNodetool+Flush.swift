import Foundation

extension FakeNodetool {
    package struct FlushOptions: Sendable {
        /// `Data.db` size of each new SSTable.
        package var dataSize = 64 * 1024
        /// Sleep after each `chunkSize` bytes of `Data.db`, to widen the window in which a
        /// watcher can see a file that is still being written.
        package var writeDelayMilliseconds = 0
        package var chunkSize = 64 * 1024
        /// Cassandra 3+ always writes one; turning it off models a writer that does not.
        package var transactionLog = true
        /// Also flush every secondary index, each through its own log in `.<index>/`.
        package var includeIndexes = true
        package init() {}
    }

    /// `nodetool flush [keyspace [tables…]]`: one new SSTable per table, written the way
    /// Cassandra 3+/4 does it:
    ///
    /// 1. under the table lock, pick the next id (max of live, `backups/` and pending ids + 1)
    ///    and create `nb_txn_flush_<uuid>.log` with an `ADD` record;
    /// 2. write the components under their final names (`Data.db` paced by the options);
    /// 3. under the lock, append `COMMIT` and delete the log;
    /// 4. with incremental backups on, hard-link the components into `backups/`.
    @discardableResult
    package func flush(
        keyspace: String? = nil, tables names: [String] = [], options: FlushOptions = FlushOptions()
    ) throws -> [SSTableFixture] {
        let selected: [Table]
        if let keyspace, !names.isEmpty {
            selected = try selectTables(keyspaces: [], tables: names.map { TableName(keyspace, $0) })
        } else {
            selected = try selectTables(keyspaces: keyspace.map { [$0] } ?? [], tables: [])
        }
        var rng = SeededGenerator(seed: UInt64.random(in: 0...UInt64.max))
        var written: [SSTableFixture] = []
        for table in selected {
            let sstable = try writeSSTable(
                table, index: nil, operation: "flush", dataSize: options.dataSize, options: options, rng: &rng
            )
            written.append(sstable)
            if incrementalBackupsEnabled { try linkIntoBackups(sstable, table: table) }
            guard options.includeIndexes else { continue }
            for index in try indexNames(in: table.directories[0]) {
                let indexSSTable = try writeSSTable(
                    table, index: index, operation: "flush", dataSize: max(1, options.dataSize / 4),
                    options: options,
                    rng: &rng)
                written.append(indexSSTable)
                if incrementalBackupsEnabled { try linkIntoBackups(indexSSTable, table: table) }
            }
        }
        return written
    }

    package struct Compaction: Sendable {
        package var keyspace: String
        package var table: String
        package var index: String?
        package var inputs: [SSTableFixture]
        package var output: SSTableFixture
    }

    /// `nodetool compact [keyspace [tables…]]`: a major compaction per table (and index) with at
    /// least one live SSTable. The merged SSTable goes through `nb_txn_compaction_<uuid>.log`
    /// (`ADD` for it, `REMOVE` for each input); after `COMMIT` the inputs and the log are
    /// deleted. Compaction output is never linked into `backups/`, as in Cassandra.
    @discardableResult
    package func compact(keyspace: String? = nil, tables names: [String] = []) throws -> [Compaction] {
        let selected: [Table]
        if let keyspace, !names.isEmpty {
            selected = try selectTables(keyspaces: [], tables: names.map { TableName(keyspace, $0) })
        } else {
            selected = try selectTables(keyspaces: keyspace.map { [$0] } ?? [], tables: [])
        }
        var rng = SeededGenerator(seed: UInt64.random(in: 0...UInt64.max))
        var compactions: [Compaction] = []
        for table in selected {
            for index in [nil] + (try indexNames(in: table.directories[0])).map(Optional.some) {
                let inputs = try DirectoryLock.with(table.directories.map(\.path)) {
                    try table.directories.flatMap { directory in
                        try liveSSTables(
                            in: index.map { directory.appendingPathComponent("." + $0) } ?? directory,
                            keyspace: table.keyspace, table: table.name, index: index)
                    }
                }
                guard !inputs.isEmpty else { continue }
                let dataSize = inputs.reduce(0) { $0 + $1.dataFile.size }
                var options = FlushOptions()
                options.chunkSize = 1 << 20
                let output = try writeSSTable(
                    table, index: index, operation: "compaction", dataSize: max(1, dataSize),
                    options: options,
                    removing: inputs, rng: &rng)
                compactions.append(
                    Compaction(
                        keyspace: table.keyspace, table: table.name, index: index, inputs: inputs,
                        output: output))
            }
        }
        return compactions
    }

    private func writeSSTable(
        _ table: Table, index: String?, operation: String, dataSize: Int, options: FlushOptions,
        removing inputs: [SSTableFixture] = [], rng: inout SeededGenerator
    ) throws -> SSTableFixture {
        let lockPaths = table.directories.map(\.path)
        let locations = table.directories.map { directory in
            index.map { directory.appendingPathComponent("." + $0) } ?? directory
        }

        // 1. Choose the id and announce the new SSTable in the log, atomically for snapshots.
        let (prefix, format, compressed, directory, logURL) = try DirectoryLock.with(lockPaths) {
            var maxGeneration = 0
            var newest: ParsedSSTableName?
            var sawUUID = false
            var compressed = true
            for (position, location) in locations.enumerated() {
                let backups = table.directories[position].appendingPathComponent("backups")
                let backupLocation = index.map { backups.appendingPathComponent("." + $0) } ?? backups
                var names: [String] = []
                if FS.isDirectory(location.path) {
                    let scan = try DirectoryScan(location)
                    names += scan.sstables.values.flatMap { $0 } + scan.reserved.map { $0 + "Data.db" }
                }
                if FS.isDirectory(backupLocation.path) {
                    names += try FS.list(backupLocation.path).filter { !$0.isDirectory }.map(\.name)
                }
                for name in names {
                    guard let parsed = CassandraNaming.parse(name) else { continue }
                    if parsed.component == "CRC.db" { compressed = false }
                    if let generation = parsed.generation {
                        if generation >= maxGeneration {
                            maxGeneration = generation
                            newest = parsed
                        }
                    } else {
                        sawUUID = true
                        if newest == nil || newest!.generation == nil && parsed.id > newest!.id {
                            newest = parsed
                        }
                    }
                }
            }
            let format: SSTableFixture.Format
            if let newest {
                format =
                    newest.isLegacy
                    ? (newest.version == "ic" ? .ic : .ka)
                    : newest.formatName == "bti"
                        ? .da : SSTableFixture.Format(rawValue: newest.version) ?? .nb
            } else {
                format = .nb
            }
            let id: String
            let position: Int
            if sawUUID && maxGeneration == 0 && !format.usesLegacyLayout {
                id = CassandraNaming.timeUUIDIdentifier(date: Date(), leastSignificantBits: rng.next())
                position = Int.random(in: 0..<locations.count, using: &rng)
            } else {
                id = String(maxGeneration + 1)
                position = maxGeneration % locations.count
            }
            let directory = locations[position]
            try FS.makeDirectory(directory.path)
            let prefix = CassandraNaming.prefix(
                format: format, id: id, keyspace: table.keyspace, table: table.name, index: index)
            var logURL: URL?
            if options.transactionLog {
                let log = directory.appendingPathComponent(
                    CassandraNaming.transactionLogName(
                        version: format.usesLegacyLayout ? "nb" : format.rawValue, operation: operation))
                var records = CassandraNaming.transactionRecord(
                    "ADD", path: directory.appendingPathComponent(prefix).path, updateTime: 0,
                    files: format.components(compressed: compressed).count)
                for input in inputs {
                    let modified =
                        FS.status(input.dataFile.url.path).map { Int($0.st_mtim.tv_sec) * 1000 } ?? 0
                    records += CassandraNaming.transactionRecord(
                        "REMOVE", path: input.directory.appendingPathComponent(input.prefix).path,
                        updateTime: modified, files: input.files.count)
                }
                try FS.writeFile(log.path, records, exclusive: true)
                logURL = log
            }
            return (prefix, format, compressed, directory, logURL)
        }

        // 2. Components under their final names, outside the lock (it takes as long as it takes).
        var writer = SSTableWriter(format: format, compressed: compressed)
        writer.chunkSize = max(1, options.chunkSize)
        writer.delayPerChunkMilliseconds = options.writeDelayMilliseconds
        let files = try writer.write(directory: directory, prefix: prefix, dataSize: dataSize, rng: &rng)

        // 3. Commit: from here the new SSTable is live and the inputs are obsolete.
        try DirectoryLock.with(lockPaths) {
            if let logURL {
                try FS.append(
                    logURL.path,
                    CassandraNaming.transactionRecord("COMMIT", path: "", updateTime: 0, files: 0))
            }
            for input in inputs {
                for file in input.files { try? FS.unlink(file.url.path) }
            }
            if let logURL { try FS.unlink(logURL.path) }
        }
        let parsed = CassandraNaming.parse(files[0].name)!
        return SSTableFixture(
            keyspace: table.keyspace, table: table.name, index: index, format: format, id: parsed.id,
            prefix: prefix,
            directory: directory, files: files)
    }

    /// `ColumnFamilyStore.maybeIncrementallyBackup`: after the flush committed, link every
    /// component into `<table dir>/backups/` (`backups/.<index>/` for an index).
    private func linkIntoBackups(_ sstable: SSTableFixture, table: Table) throws {
        var tableDirectory = sstable.directory
        if sstable.index != nil { tableDirectory = tableDirectory.deletingLastPathComponent() }
        let backups = tableDirectory.appendingPathComponent("backups")
        let target = sstable.index.map { backups.appendingPathComponent("." + $0) } ?? backups
        try FS.makeDirectory(target.path)
        for file in sstable.files {
            try FS.link(file.url.path, target.appendingPathComponent(file.name).path)
        }
    }
}
