import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The file-system side of Cassandra 4.1 `nodetool` for a node made by `CassandraDataBuilder`
/// (or any directory laid out like a Cassandra data directory). No JMX, no memtables: what it
/// reproduces is what a backup agent can observe on disk, in the order Cassandra does it.
///
/// The `fake-nodetool` executable is a thin wrapper over `FakeNodetool.runCommandLine`.
package struct FakeNodetool: Sendable {
    /// Written in the node root (the parent of the first data directory) on first use.
    package static let hostIDFileName = ".fake-nodetool-host-id"
    /// When this file exists in the node root, flushes link new SSTables into `backups/`
    /// (`nodetool enablebackup` creates it, `disablebackup` removes it).
    package static let incrementalBackupsMarkerName = ".fake-nodetool-incremental-backups"
    /// When this file exists in the node root, its first line is the release `nodetool version`
    /// reports (and the fake behaves like it: 1.x refuses `-kt`, writes no snapshot manifest).
    package static let releaseVersionFileName = ".fake-nodetool-release-version"

    package struct Configuration: Sendable {
        package var dataDirectories: [URL]
        /// Overrides the host-ID file.
        package var hostID: UUID? = nil
        /// Overrides the marker file; nil lets the marker decide.
        package var incrementalBackups: Bool? = nil
        package var releaseVersion = "4.1.5"
        package var clusterName = "Test Cluster"
        package var dataCenter = "datacenter1"
        package var rack = "rack1"
        package var address = "127.0.0.1"
        package var numTokens = 16

        package init(dataDirectories: [URL]) {
            self.dataDirectories = dataDirectories.map(\.standardizedFileURL)
        }
    }

    /// A failure the way nodetool reports it: usage errors exit 1, command errors exit 2.
    package struct CommandError: Error, CustomStringConvertible, Sendable {
        package enum Kind: Sendable { case usage, failure }
        package var kind: Kind
        package var message: String
        /// The Java exception class shown in the fake stack trace.
        package var exception: String

        package static func usage(_ message: String) -> CommandError {
            CommandError(kind: .usage, message: message, exception: "IllegalArgumentException")
        }
        package static func failure(_ message: String, exception: String = "java.io.IOException")
            -> CommandError
        {
            CommandError(kind: .failure, message: message, exception: exception)
        }

        package var exitCode: Int32 { kind == .usage ? 1 : 2 }
        package var description: String { message }
    }

    package struct TableName: Hashable, Sendable, CustomStringConvertible {
        package var keyspace: String
        package var table: String
        package init(_ keyspace: String, _ table: String) {
            self.keyspace = keyspace
            self.table = table
        }
        package var description: String { "\(keyspace).\(table)" }
    }

    /// A table as found on disk: one directory per data directory that holds it.
    package struct Table: Sendable, Hashable {
        package var keyspace: String
        package var name: String
        package var id: String
        package var directories: [URL]
        package var isSystem: Bool { CassandraDataBuilder.systemKeyspaces.contains(keyspace) }
        package var tableName: TableName { TableName(keyspace, name) }
    }

    package var configuration: Configuration

    package init(configuration: Configuration) {
        self.configuration = configuration
    }

    package init(dataDirectories: [URL]) {
        var configuration = Configuration(dataDirectories: dataDirectories)
        if let root = configuration.dataDirectories.first?.deletingLastPathComponent(),
            let release = Self.releaseVersion(inNodeRoot: root)
        {
            configuration.releaseVersion = release
        }
        self.init(configuration: configuration)
    }

    /// The release recorded by `CassandraDataBuilder` in `root`, if any.
    static func releaseVersion(inNodeRoot root: URL) -> String? {
        guard let text = try? FS.readText(root.appendingPathComponent(releaseVersionFileName).path) else {
            return nil
        }
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.isEmpty ? nil : line
    }

    /// `1` of `1.2.19`.
    package var majorVersion: Int? {
        configuration.releaseVersion.split(separator: ".").first.flatMap { Int($0) }
    }

    /// The parent of the first data directory, where the host-ID and backup marker files live.
    package var nodeRoot: URL { configuration.dataDirectories[0].deletingLastPathComponent() }

    func checkDataDirectories() throws {
        guard !configuration.dataDirectories.isEmpty else {
            throw CommandError.failure("no data directory: pass --data-dir or set FAKE_NODETOOL_DATA_DIR")
        }
        for directory in configuration.dataDirectories where !FS.isDirectory(directory.path) {
            throw CommandError.failure("data directory \(directory.path) does not exist")
        }
    }

    // MARK: tables

    /// Every table directory, grouped across data directories, sorted by keyspace and table.
    package func tables() throws -> [Table] {
        try checkDataDirectories()
        var byKey: [String: Table] = [:]
        for dataDirectory in configuration.dataDirectories {
            for keyspace in try FS.list(dataDirectory.path)
            where keyspace.isDirectory && !keyspace.name.hasPrefix(".") {
                let keyspaceURL = dataDirectory.appendingPathComponent(keyspace.name)
                for entry in try FS.list(keyspaceURL.path) where entry.isDirectory {
                    guard let (table, id) = CassandraNaming.splitTableDirectory(entry.name) else { continue }
                    let key = "\(keyspace.name)/\(entry.name)"
                    let url = keyspaceURL.appendingPathComponent(entry.name)
                    byKey[key, default: Table(keyspace: keyspace.name, name: table, id: id, directories: [])]
                        .directories.append(url)
                }
            }
        }
        return byKey.values.sorted { ($0.keyspace, $0.name, $0.id) < ($1.keyspace, $1.name, $1.id) }
    }

    /// Tables in `keyspaces` (all when empty), or exactly `tables` when that is not empty.
    /// Unknown keyspaces and tables are errors, as in nodetool.
    func selectTables(keyspaces: [String], tables requested: [TableName]) throws -> [Table] {
        let all = try tables()
        let known = Set(all.map(\.keyspace))
        for keyspace in keyspaces + requested.map(\.keyspace) where !known.contains(keyspace) {
            throw CommandError.failure("Keyspace \(keyspace) does not exist")
        }
        if !requested.isEmpty {
            let names = Set(all.map(\.tableName))
            for name in requested where !names.contains(name) {
                throw CommandError.failure(
                    "Table \(name.table) does not exist in keyspace \(name.keyspace)",
                    exception: "java.lang.IllegalArgumentException")
            }
            let wanted = Set(requested)
            return all.filter { wanted.contains($0.tableName) }
        }
        if keyspaces.isEmpty { return all }
        let wanted = Set(keyspaces)
        return all.filter { wanted.contains($0.keyspace) }
    }

    // MARK: live SSTables

    /// The live SSTables of one directory (a table directory or a `.<index>` directory): complete
    /// (`TOC.txt` present with every component it lists) and not written by an unfinished
    /// transaction, nor removed by a committed one.
    func liveSSTables(
        in directory: URL, keyspace: String, table: String, index: String?
    ) throws -> [SSTableFixture] {
        let scan = try DirectoryScan(directory)
        var result: [SSTableFixture] = []
        for (prefix, names) in scan.sstables where !scan.excluded.contains(prefix) {
            guard names.contains(prefix + "TOC.txt"),
                let toc = try? FS.readText(directory.appendingPathComponent(prefix + "TOC.txt").path)
            else { continue }
            let listed = toc.split(whereSeparator: \.isNewline).map {
                prefix + $0.trimmingCharacters(in: .whitespaces)
            }
            guard listed.allSatisfy(names.contains) else { continue }
            result.append(
                Self.fixture(
                    prefix: prefix, names: names, directory: directory, keyspace: keyspace, table: table,
                    index: index))
        }
        return result.sorted(by: Self.sstableOrder)
    }

    static func sstableOrder(_ a: SSTableFixture, _ b: SSTableFixture) -> Bool {
        switch (a.generation, b.generation) {
        case let (x?, y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        default: return a.id < b.id
        }
    }

    static func fixture(
        prefix: String, names: [String], directory: URL, keyspace: String, table: String, index: String?
    ) -> SSTableFixture {
        let parsed = CassandraNaming.parse(names[0])!
        let format: SSTableFixture.Format =
            parsed.isLegacy
            ? (parsed.version == "ic" ? .ic : .ka)
            : parsed.formatName == "bti" ? .da : SSTableFixture.Format(rawValue: parsed.version) ?? .nb
        let files = names.sorted().map { name in
            let url = directory.appendingPathComponent(name)
            return SSTableFileFixture(
                name: name, component: String(name.dropFirst(prefix.count)), url: url, size: FS.size(url.path)
            )
        }
        return SSTableFixture(
            keyspace: keyspace, table: table, index: index, format: format, id: parsed.id, prefix: prefix,
            directory: directory, files: files)
    }

    /// Secondary index directories (`.<index>`) inside a table directory.
    func indexNames(in tableDirectory: URL) throws -> [String] {
        try FS.list(tableDirectory.path).filter {
            $0.isDirectory && $0.name.hasPrefix(".") && $0.name.count > 1
        }
        .map { String($0.name.dropFirst()) }.sorted()
    }

    // MARK: node identity

    /// `$FAKE_NODETOOL_HOST_ID` (through the configuration), else the host-ID file in the node
    /// root, created on first use.
    package func hostID() throws -> UUID {
        if let hostID = configuration.hostID { return hostID }
        try checkDataDirectories()
        let path = nodeRoot.appendingPathComponent(Self.hostIDFileName).path
        if let existing = try? FS.readText(path),
            let uuid = UUID(uuidString: existing.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            return uuid
        }
        // Write aside and link into place, so concurrent first uses agree on one ID.
        let fresh = UUID()
        let temporary = "\(path).\(getpid()).\(UUID().uuidString)"
        try FS.writeFile(temporary, fresh.uuidString.lowercased() + "\n")
        defer { try? FS.unlink(temporary) }
        do {
            try FS.link(temporary, path)
            return fresh
        } catch let error as FileSystemError where error.code == EEXIST {
            let existing = try FS.readText(path).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let uuid = UUID(uuidString: existing) else {
                throw CommandError.failure("invalid host ID in \(path): \(existing)")
            }
            return uuid
        }
    }

    /// Murmur3 tokens, stable for a host ID.
    package func tokens() throws -> [Int64] {
        let id = try hostID()
        var rng = SeededGenerator(seed: 7, id.uuidString.lowercased())
        return (0..<max(1, configuration.numTokens)).map { _ in Int64(bitPattern: rng.next()) }.sorted()
    }

    package var incrementalBackupsEnabled: Bool {
        configuration.incrementalBackups
            ?? FS.exists(nodeRoot.appendingPathComponent(Self.incrementalBackupsMarkerName).path)
    }

    /// `nodetool enablebackup` / `disablebackup`: persisted as the marker file.
    package func setIncrementalBackups(_ enabled: Bool) throws {
        try checkDataDirectories()
        let path = nodeRoot.appendingPathComponent(Self.incrementalBackupsMarkerName).path
        if enabled {
            try FS.writeFile(path, "")
        } else if FS.exists(path) {
            try FS.unlink(path)
        }
    }

    /// Bytes in live SSTables (snapshots and backups excluded), as `Load` shows.
    package func load() throws -> Int {
        var total = 0
        for table in try tables() {
            for directory in table.directories {
                for sstable in try liveSSTables(
                    in: directory, keyspace: table.keyspace, table: table.name, index: nil)
                {
                    total += sstable.totalSize
                }
            }
        }
        return total
    }
}

/// One listing of an SSTable directory: files grouped by SSTable, and the SSTables an
/// unfinished or committed transaction log rules out.
struct DirectoryScan {
    /// Prefix → file names.
    var sstables: [String: [String]] = [:]
    var transactionLogs: [String] = []
    /// Prefixes named by ADD in an unfinished log or by REMOVE in a committed one.
    var excluded: Set<String> = []
    /// Prefixes named by ADD in any log (ids that are taken even though no file exists yet).
    var reserved: Set<String> = []

    init(_ directory: URL) throws {
        for entry in try FS.list(directory.path) where !entry.isDirectory {
            if CassandraNaming.isTransactionLog(entry.name) {
                transactionLogs.append(entry.name)
            } else if let parsed = CassandraNaming.parse(entry.name) {
                sstables[parsed.prefix, default: []].append(entry.name)
            }
        }
        for name in transactionLogs {
            guard let log = CassandraNaming.readTransactionLog(directory.appendingPathComponent(name).path)
            else {
                continue
            }
            reserved.formUnion(log.added)
            excluded.formUnion(log.committed ? log.removed : log.added)
        }
    }
}
