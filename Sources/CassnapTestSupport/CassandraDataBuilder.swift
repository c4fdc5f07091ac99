import Foundation

/// Builds a realistic Cassandra node on disk for tests:
///
/// ```
/// <root>/data/<ks>/<table>-<32 hex id>/nb-<gen>-big-<Component>   (data1…dataN for JBOD)
/// <root>/data/<ks>/<table>-<id>/.<index>/nb-<gen>-big-<Component> secondary indexes
/// <root>/data/<ks>/<table>-<id>/backups/                          incremental backups
/// <root>/commitlog, <root>/saved_caches, <root>/hints
/// ```
///
/// Content is a function of `seed` alone: the same configuration gives the same table ids,
/// names and bytes. `build()` returns what it created so tests can assert against it.
package struct CassandraDataBuilder: Sendable {
    package struct Configuration: Sendable {
        package var keyspaces = 2
        package var tablesPerKeyspace = 3
        package var sstablesPerTable = 3
        /// `Data.db` sizes, drawn log-uniformly from this range.
        package var dataSize: ClosedRange<Int> = 4096...16384
        /// This many SSTables (chosen by seed) get a `Data.db` of `largeDataSize` instead.
        package var largeSSTables = 0
        package var largeDataSize = 64 << 20
        package var format: SSTableFixture.Format = .nb
        package var identifiers: SSTableFixture.Identifiers = .sequential
        /// Uncompressed tables get `CRC.db` instead of `CompressionInfo.db`.
        package var compressed = true
        /// `.<table>_idx<i>/` directories with their own SSTables.
        package var secondaryIndexesPerTable = 0
        /// Storage-attached indexes (5.0, with `.oa`/`.da`): every table SSTable gets the SAI
        /// per-SSTable components and, per index, the per-index ones (`CassandraExtraFiles`).
        package var saiIndexes: [String] = []
        /// SASI indexes (3.4+): `<sstable>-SI_<index>.db` beside every table SSTable.
        package var sasiIndexes: [String] = []
        /// Leveled compaction on 1.1–1.2 (`.ic`): `<table>.json` in every table directory, which
        /// the fake's `snapshot` hard-links into `snapshots/<tag>/`.
        package var leveledManifest = false
        /// Written to `.fake-nodetool-release-version` in the node root for `nodetool version`
        /// (and the fake's version-dependent behaviour); nil writes `format.releaseVersion`
        /// for `.ic` and nothing otherwise.
        package var releaseVersion: String? = nil
        /// Adds small tables in `system`, `system_schema`, `system_auth`, `system_distributed`
        /// and `system_traces` (two SSTables each).
        package var systemKeyspaces = false
        /// Names instead of `ks0, ks1…` and `t0, t1…`; their counts override the numbers above.
        package var keyspaceNames: [String]? = nil
        package var tableNames: [String]? = nil
        /// Create an empty `backups/` in every table directory.
        package var backupsDirectories = true
        /// Hard-link every SSTable into `backups/`, as if each had been flushed with
        /// `incremental_backups: true`.
        package var linkIntoBackups = false
        /// Turn incremental backups on for later `fake-nodetool flush`es (writes the marker
        /// file `FakeNodetool.incrementalBackupsMarkerName` in the node root).
        package var incrementalBackups = false
        /// More than one gives a JBOD node: `data1…dataN`, SSTables spread round-robin.
        package var dataDirectoryCount = 1
        /// `commitlog`, `saved_caches` and `hints` beside the data directories.
        package var siblingDirectories = true
        /// Written to `.fake-nodetool-host-id` in the node root; when nil the fake nodetool
        /// makes one up on first use.
        package var hostID: UUID? = nil
        package var seed: UInt64 = 42
        /// Parallel workers; the default uses every core.
        package var workers = ProcessInfo.processInfo.activeProcessorCount

        package init() {}
    }

    /// Keyspaces whose snapshots get no `schema.cql`.
    package static let systemKeyspaces: Set<String> = [
        "system", "system_schema", "system_auth", "system_distributed", "system_traces", "system_views",
        "system_virtual_schema",
    ]

    package var root: URL
    package var configuration: Configuration

    package init(root: URL, configuration: Configuration = Configuration()) {
        self.root = root.standardizedFileURL
        self.configuration = configuration
    }

    package var dataDirectories: [URL] {
        let count = max(1, configuration.dataDirectoryCount)
        if count == 1 { return [root.appendingPathComponent("data")] }
        return (1...count).map { root.appendingPathComponent("data\($0)") }
    }

    private struct PlannedTable: Sendable {
        var keyspace: String
        var name: String
        var sstables: Int
        var indexes: Int
        var position: Int
    }

    @discardableResult
    package func build() throws -> CassandraNodeFixture {
        let config = configuration
        let dataDirectories = self.dataDirectories
        for directory in dataDirectories { try FS.makeDirectory(directory.path) }
        var siblings: [URL] = []
        if config.siblingDirectories {
            for name in ["commitlog", "saved_caches", "hints"] {
                let url = root.appendingPathComponent(name)
                try FS.makeDirectory(url.path)
                siblings.append(url)
            }
        }
        if let hostID = config.hostID {
            try FS.writeFile(
                root.appendingPathComponent(FakeNodetool.hostIDFileName).path,
                hostID.uuidString.lowercased() + "\n")
        }
        if let release = config.releaseVersion ?? (config.format == .ic ? config.format.releaseVersion : nil)
        {
            try FS.writeFile(
                root.appendingPathComponent(FakeNodetool.releaseVersionFileName).path, release + "\n")
        }
        if config.incrementalBackups {
            try FS.writeFile(root.appendingPathComponent(FakeNodetool.incrementalBackupsMarkerName).path, "")
        }

        let plan = planTables()
        var rng = SeededGenerator(seed: config.seed, "large")
        let slots = plan.flatMap { t in (1...max(1, t.sstables)).map { [t.position, $0] } }.shuffled(
            using: &rng)
        let largeSlots = Set(slots.prefix(max(0, config.largeSSTables)))

        let results = ResultBox(count: plan.count)
        let workers = max(1, min(config.workers, plan.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: plan.count, by: workers) {
                if results.failed { return }
                do {
                    let table = try buildTable(
                        plan[index], dataDirectories: dataDirectories, largeSlots: largeSlots)
                    results.set(index, table)
                } catch {
                    results.fail(error)
                    return
                }
            }
        }
        if let error = results.error { throw error }
        return CassandraNodeFixture(
            root: root, dataDirectories: dataDirectories, siblingDirectories: siblings,
            tables: results.tables.map { $0! }, hostID: config.hostID)
    }

    private func planTables() -> [PlannedTable] {
        let config = configuration
        let keyspaces = config.keyspaceNames ?? (0..<config.keyspaces).map { "ks\($0)" }
        let tables = config.tableNames ?? (0..<config.tablesPerKeyspace).map { "t\($0)" }
        var plan: [PlannedTable] = []
        for keyspace in keyspaces {
            for table in tables {
                plan.append(
                    PlannedTable(
                        keyspace: keyspace, name: table, sstables: config.sstablesPerTable,
                        indexes: config.secondaryIndexesPerTable, position: plan.count))
            }
        }
        if config.systemKeyspaces {
            let system: [(String, [String])] = [
                (
                    "system",
                    ["local", "peers_v2", "compaction_history", "size_estimates", "sstable_activity_v2"]
                ),
                ("system_schema", ["keyspaces", "tables", "columns", "indexes", "types"]),
                ("system_auth", ["roles", "role_permissions"]),
                ("system_distributed", ["repair_history", "parent_repair_history"]),
                ("system_traces", ["sessions", "events"]),
            ]
            for (keyspace, names) in system {
                for name in names {
                    plan.append(
                        PlannedTable(
                            keyspace: keyspace, name: name, sstables: 2, indexes: 0, position: plan.count))
                }
            }
        }
        return plan
    }

    private func buildTable(
        _ plan: PlannedTable, dataDirectories: [URL], largeSlots: Set<[Int]>
    ) throws -> TableFixture {
        let config = configuration
        var rng = SeededGenerator(seed: config.seed, plan.keyspace, plan.name)
        let id = config.format.hasTableIDs ? CassandraNaming.tableID(&rng) : ""
        let directoryName = id.isEmpty ? plan.name : "\(plan.name)-\(id)"
        let tableDirectories = dataDirectories.map {
            $0.appendingPathComponent(plan.keyspace).appendingPathComponent(directoryName)
        }
        for directory in tableDirectories {
            try FS.makeDirectory(directory.path)
            if config.backupsDirectories || config.linkIntoBackups {
                try FS.makeDirectory(directory.appendingPathComponent("backups").path)
            }
        }
        let writer = SSTableWriter(format: config.format, compressed: config.compressed)

        func writeSSTables(index: String?, count: Int, sizeDivisor: Int) throws -> [SSTableFixture] {
            var sstables: [SSTableFixture] = []
            for generation in stride(from: 1, through: count, by: 1) {
                var sstableRNG = SeededGenerator(
                    seed: config.seed, plan.keyspace, plan.name, index ?? "", String(generation))
                let tableDirectory = tableDirectories[(generation - 1) % tableDirectories.count]
                let directory =
                    index.map { tableDirectory.appendingPathComponent("." + $0) } ?? tableDirectory
                if index != nil { try FS.makeDirectory(directory.path) }
                let id: String
                switch config.identifiers {
                case .timeUUID where !config.format.usesLegacyLayout:
                    let date = Date(timeIntervalSince1970: 1_704_067_200 + Double(plan.position) * 0.001)
                        .addingTimeInterval(Double(generation) * 60)
                    id = CassandraNaming.timeUUIDIdentifier(
                        date: date, leastSignificantBits: sstableRNG.next())
                default:
                    id = String(generation)
                }
                let size: Int
                if index == nil, largeSlots.contains([plan.position, generation]) {
                    size = config.largeDataSize
                } else {
                    size = Self.logUniform(config.dataSize, using: &sstableRNG) / sizeDivisor
                }
                let prefix = CassandraNaming.prefix(
                    format: config.format, id: id, keyspace: plan.keyspace, table: plan.name, index: index)
                var files = try writer.write(
                    directory: directory, prefix: prefix, dataSize: max(size, 1), rng: &sstableRNG)
                if index == nil {
                    files += try CassandraExtraFiles.writeIndexComponents(
                        CassandraExtraFiles.saiComponents(indexes: config.saiIndexes)
                            + CassandraExtraFiles.sasiComponents(indexes: config.sasiIndexes),
                        directory: directory, prefix: prefix, rng: &sstableRNG)
                }
                if config.linkIntoBackups {
                    let backups = tableDirectory.appendingPathComponent("backups")
                    let target = index.map { backups.appendingPathComponent("." + $0) } ?? backups
                    try FS.makeDirectory(target.path)
                    for file in files {
                        try FS.link(file.url.path, target.appendingPathComponent(file.name).path)
                    }
                }
                sstables.append(
                    SSTableFixture(
                        keyspace: plan.keyspace, table: plan.name, index: index, format: config.format,
                        id: id,
                        prefix: prefix, directory: directory, files: files))
            }
            return sstables
        }

        let sstables = try writeSSTables(index: nil, count: plan.sstables, sizeDivisor: 1)
        if config.leveledManifest {
            // Everything in L0, as a node that has not compacted yet: members by generation.
            for directory in tableDirectories {
                let members = sstables.filter { $0.directory == directory }.compactMap(\.generation)
                let levels = [members] + Array(repeating: [], count: 4)
                try FS.writeFile(
                    directory.appendingPathComponent(
                        CassandraExtraFiles.leveledManifestName(table: plan.name)
                    ).path,
                    CassandraExtraFiles.leveledManifestJSON(levels: levels))
            }
        }
        var indexes: [SecondaryIndexFixture] = []
        for i in 0..<plan.indexes {
            let name = "\(plan.name)_idx\(i)"
            for directory in tableDirectories {
                try FS.makeDirectory(directory.appendingPathComponent("." + name).path)
            }
            indexes.append(
                SecondaryIndexFixture(
                    name: name, sstables: try writeSSTables(index: name, count: plan.sstables, sizeDivisor: 4)
                ))
        }
        return TableFixture(
            keyspace: plan.keyspace, name: plan.name, id: id, directories: tableDirectories,
            sstables: sstables,
            indexes: indexes)
    }

    static func logUniform(_ range: ClosedRange<Int>, using rng: inout SeededGenerator) -> Int {
        guard range.upperBound > range.lowerBound else { return range.lowerBound }
        let lo = log(Double(max(range.lowerBound, 1)))
        let hi = log(Double(range.upperBound))
        let value = Int(exp(Double.random(in: lo...hi, using: &rng)))
        return min(max(value, range.lowerBound), range.upperBound)
    }
}

/// Results of the parallel build; each worker writes only its own slots.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _tables: [TableFixture?]
    private var _error: Error?

    init(count: Int) { _tables = Array(repeating: nil, count: count) }

    var failed: Bool { lock.withLock { _error != nil } }
    var error: Error? { lock.withLock { _error } }
    var tables: [TableFixture?] { lock.withLock { _tables } }

    func set(_ index: Int, _ table: TableFixture) { lock.withLock { _tables[index] = table } }
    func fail(_ error: Error) { lock.withLock { if _error == nil { _error = error } } }
}
