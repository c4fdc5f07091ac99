import ArgumentParser
import CassnapCore
import CassnapRepository
import Foundation

/// `cassnap restore SNAPSHOT --node N --to DIR`: brings nodes' files back from the bucket alone.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract:
            "Download a snapshot's files for some or all nodes into DIR/<host-id>/<keyspace>/<table-dir>/.",
        discussion: RestoreOptions.discussion)

    @OptionGroup var options: RestoreOptions
    @OptionGroup var repository: RepositoryOptions

    func validate() throws {
        if options.all == !options.nodes.isEmpty {
            throw ValidationError("give --node (repeatable) or --all")
        }
        try options.check()
    }

    func run() async throws {
        let coordinator = repository.coordinator
        try await withRepositoryErrors {
            try await options.perform(
                with: try await repository.open(), json: coordinator.json,
                pointInTime: { node, instant in
                    try await CoordinatorSession.runReturning(coordinator) {
                        try await $0.client.pointInTime(node: node, at: instant).manifest
                    }
                })
        }
    }
}

/// What `cassnap restore` and `cassnap-agent restore` share: the flags and the whole run.
package struct RestoreOptions: ParsableArguments {
    package static let discussion = """
        Every name is checked and free space is counted before anything is written; each file \
        is checked against its manifest's size and SHA-256 before it gets its final name. A \
        rerun skips files already in place, so an interrupted restore resumes.
        """

    @Argument(help: "Snapshot id or tag (none with --at).") package var snapshot: String?
    @Option(
        help: ArgumentHelp(
            "Restore the SSTables that were live on the node at this instant (ISO 8601, the agent's clock), from the live-SSTable history; no snapshot needed. Needs the coordinator.",
            valueName: "INSTANT"))
    package var at: String?
    @Option(name: .customLong("node"), help: "Host ID or hostname; repeatable.") package var nodes: [String] =
        []
    @Flag(help: "Every node of the snapshot that is complete.") package var all = false
    @Option(help: "Target directory: DIR/<host-id>/<keyspace>/<table-dir>/.") package var to: String?
    @Option(
        name: .customLong("in-place"),
        help: "A stopped node's data directory: DATA_DIR/<keyspace>/<table-dir>/ (one node).")
    package var inPlace: String?
    @Option(
        name: .customLong("host-map"),
        help: ArgumentHelp(
            "OLD=NEW: restore node OLD (host ID or hostname) into DIR/NEW/; repeatable, or a CSV file of OLD,NEW lines.",
            valueName: "OLD=NEW|FILE"))
    package var hostMap: [String] = []
    @Flag(help: "With --in-place: move files the snapshot does not hold aside instead of refusing.")
    package var force = false
    @Option(help: "Only this keyspace; repeatable.") package var keyspace: [String] = []
    @Option(help: "Only this table, as keyspace.table; repeatable.") package var table: [String] = []
    @Option(help: "Transfers at once (whole files, and 4 ranges of each file from 256 MiB).")
    package var concurrency = 8

    package init() {}

    /// The checks that do not depend on which nodes are named (the caller checks those).
    package func check() throws {
        if (snapshot == nil) == (at == nil) { throw ValidationError("give a SNAPSHOT, or --at INSTANT") }
        if let at {
            guard InstantFormat.parse(at) != nil else {
                throw ValidationError(
                    "--at \(at.debugDescription) is not an ISO 8601 instant such as 2026-11-23T02:00:00Z")
            }
            if all { throw ValidationError("--at restores the nodes --node names, not --all") }
        }
        if (to == nil) == (inPlace == nil) { throw ValidationError("give --to DIR or --in-place DATA_DIR") }
        if inPlace != nil && (all || nodes.count > 1) {
            throw ValidationError("--in-place restores one node: give exactly one --node")
        }
        if force && inPlace == nil { throw ValidationError("--force goes with --in-place") }
        if !hostMap.isEmpty && inPlace != nil {
            throw ValidationError("--host-map goes with --to, not --in-place")
        }
        for t in table where t.split(separator: ".").count != 2 {
            throw ValidationError("--table \(t.debugDescription) is not keyspace.table")
        }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 64") }
    }

    /// What was live on a node (host ID or hostname) at an instant, as a node manifest.
    package typealias PointInTimeSource = @Sendable (String, Date) async throws -> NodeManifest

    /// Plans, checks and downloads, then prints what the operator needs next. Throws
    /// `ExitCode(1)` when some file could not be restored (the rest is).
    package func perform(with repo: Repository, json: Bool, pointInTime: PointInTimeSource? = nil)
        async throws
    {
        let filter = RestorePlan.Filter(keyspaces: Set(keyspace), tables: Set(table))
        let (manifests, record) = try await manifests(repo, pointInTime: pointInTime)
        var plans = try manifests.map { try RestorePlan(manifest: $0, keys: repo.keys, filter: filter) }
        if at != nil {
            // Assembled from the pool: every SSTable must be whole before a file is written.
            for plan in plans {
                let incomplete = try await repo.incompleteSSTables(in: plan.manifest)
                guard incomplete.isEmpty else {
                    throw CLIError(
                        message:
                            "node \(plan.manifest.node.hostID) at \(at!): \(incomplete.count) SSTables are "
                            + "not wholly in the bucket, nothing was written: "
                            + incomplete.prefix(5).joined(separator: "; "),
                        exitCode: ExitStatus.failure)
                }
            }
        }
        if !hostMap.isEmpty {
            let names = try HostMap.parse(hostMap, record: record)
            plans = try plans.map { plan in
                guard let name = names[plan.manifest.node.hostID] else {
                    throw CLIError(
                        message: "--host-map names no new node for \(plan.manifest.node.hostname) "
                            + "(\(plan.manifest.node.hostID)); map every node restored",
                        exitCode: ExitStatus.usage)
                }
                return try plan.placed(under: name)
            }
        }
        let target = try TargetPath.absolute(inPlace ?? to!)
        var displaced: String?
        if inPlace != nil {
            plans = plans.map { $0.inPlace() }
            displaced = try prepareInPlace(plans[0], dataDirectory: target)
        }
        let live = !json && isatty(STDERR_FILENO) == 1
        let outcome = try await Restorer(repository: repo, concurrency: concurrency).restore(
            plans, into: target, onProgress: { if live { RestoreOutput.progress($0) } })
        if live { FileHandle.standardError.write(Data("\n".utf8)) }
        if json {
            var report = RestoreOutput.Report(
                outcome, plans: plans, target: target, inPlace: inPlace != nil)
            report.displacedTo = displaced
            print(try JSONOutput.pretty(report))
        } else if inPlace != nil {
            RestoreOutput.inPlaceSummary(
                outcome, plan: plans[0], dataDirectory: target, displaced: displaced)
        } else {
            RestoreOutput.summary(outcome, plans: plans, target: target)
        }
        if let at, !json {
            print("")
            print(
                "point in time: the SSTables live at \(at) by each node's clock; writes still in memtables then "
                    + "are in no SSTable (run repair after the restart), and index SSTables are not restored "
                    + "(nodetool rebuild_index)")
        }
        if !outcome.failures.isEmpty { throw ExitCode(ExitStatus.failure) }
    }
}

extension RestoreOptions {
    /// The node manifests to restore, and the record that names their nodes: a snapshot's
    /// (cluster record, or node snapshots under the tag), or with `--at` what the coordinator
    /// assembled from each node's live-SSTable history.
    func manifests(_ repo: Repository, pointInTime: PointInTimeSource?) async throws -> (
        [NodeManifest], ClusterSnapshotRecord
    ) {
        if let at {
            guard let pointInTime else {
                throw CLIError.usage(
                    "--at needs the coordinator (its live-SSTable history): use cassnap restore --at")
            }
            let instant = InstantFormat.parse(at)!
            var manifests: [NodeManifest] = []
            for node in nodes { manifests.append(try await pointInTime(node, instant)) }
            let record = ClusterSnapshotRecord.pointInTime(manifests, at: instant)
            return (manifests, record)
        }
        let record = try await repo.clusterSnapshotOrNodeSnapshot(snapshot!, nodes: nodes)
        let hosts =
            all
            ? Set(record.nodes.filter { $0.status == .complete }.map(\.hostID))
            : try resolveNodes(nodes, in: record)
        var manifests: [NodeManifest] = []
        for host in hosts.sorted() {
            let entry = record.nodes.first { $0.hostID == host }!
            guard entry.status == .complete else {
                throw CLIError(
                    message: "node \(host) is \(entry.status.rawValue) in snapshot \(record.tag): "
                        + (entry.error ?? "it has no manifest"),
                    exitCode: ExitStatus.failure)
            }
            manifests.append(try await repo.nodeManifest(host: host, tag: record.tag))
        }
        return (manifests, record)
    }

    /// Refuses while a process holds the data directory, and while a restored table directory
    /// holds files the snapshot does not (unless `--force`, which moves them aside). Answers
    /// where they were moved.
    func prepareInPlace(_ plan: RestorePlan, dataDirectory: String) throws -> String? {
        let holders = InPlaceRestore.holders(of: dataDirectory)
        if !holders.isEmpty {
            throw CLIError(
                message: "--in-place \(dataDirectory) is in use; stop Cassandra first:\n"
                    + holders.prefix(5).map { "  \($0)" }.joined(separator: "\n"),
                exitCode: ExitStatus.failure)
        }
        let foreign = InPlaceRestore.foreignFiles(of: plan, in: dataDirectory)
        guard !foreign.isEmpty else { return nil }
        guard force else {
            throw CLIError(
                message:
                    "--in-place \(dataDirectory): \(foreign.count) files in the restored tables' directories "
                    + "are not in the snapshot, e.g. \(foreign.prefix(3).joined(separator: ", ")); "
                    + "Cassandra would load them beside the restored SSTables. Move them away, or add --force "
                    + "to move them into \(dataDirectory)/.cassnap-displaced-<time>/ (nothing is deleted)",
                exitCode: ExitStatus.failure)
        }
        let aside = try InPlaceRestore.displace(foreign, in: dataDirectory)
        FileHandle.standardError.write(Data("moved \(foreign.count) files aside to \(aside)\n".utf8))
        return aside
    }
}

/// `--host-map OLD=NEW` values, or CSV files of `OLD,NEW` lines (`#` comments, blank lines).
enum HostMap {
    static func parse(_ values: [String], record: ClusterSnapshotRecord) throws -> [HostID: String] {
        var pairs: [(source: String, old: String, new: String)] = []
        for value in values {
            if let eq = value.firstIndex(of: "=") {
                pairs.append(
                    ("--host-map \(value)", String(value[..<eq]), String(value[value.index(after: eq)...])))
                continue
            }
            let text: String
            do { text = try String(contentsOfFile: value, encoding: .utf8) } catch {
                throw CLIError(
                    message:
                        "--host-map \(value.debugDescription) is neither OLD=NEW nor a readable CSV file",
                    exitCode: ExitStatus.usage)
            }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false)
                guard fields.count == 2 else {
                    throw CLIError(
                        message: "\(value):\(n + 1): expected OLD,NEW, found \(trimmed.debugDescription)",
                        exitCode: ExitStatus.usage)
                }
                pairs.append(
                    (
                        "\(value):\(n + 1)", fields[0].trimmingCharacters(in: .whitespaces),
                        fields[1].trimmingCharacters(in: .whitespaces)
                    ))
            }
        }
        var map: [HostID: String] = [:]
        var used: [String: String] = [:]
        for pair in pairs {
            guard !pair.old.isEmpty, !pair.new.isEmpty else {
                throw CLIError(
                    message: "\(pair.source): OLD and NEW must both be given", exitCode: ExitStatus.usage)
            }
            let host = try resolveNodes([pair.old], in: record).first!
            if let earlier = map[host], earlier != pair.new {
                throw CLIError(
                    message: "\(pair.source): \(pair.old) is already mapped to \(earlier)",
                    exitCode: ExitStatus.usage)
            }
            if let other = used[pair.new], other != host.description {
                throw CLIError(
                    message: "\(pair.source): \(pair.new) is already the new node of \(other)",
                    exitCode: ExitStatus.usage)
            }
            map[host] = pair.new
            used[pair.new] = host.description
        }
        return map
    }
}

extension RestorePlan {
    /// Whether this restore brings back the `system` keyspace, where a node keeps its schema
    /// before 4.0 and its identity in every release.
    var restoresSystemKeyspace: Bool { tableDirectories.contains { $0.hasPrefix("system/") } }
}

enum TargetPath {
    static func absolute(_ path: String) throws -> String {
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return (full as NSString).standardizingPath
    }
}

/// What restore prints: a live progress line on a terminal, then what the operator needs next.
enum RestoreOutput {
    static func progress(_ p: Restorer.Progress) {
        let seconds = max(0.001, Date().timeIntervalSince(p.startedAt))
        let rate = Double(p.bytes) / seconds / 1_000_000
        let eta = rate > 0 ? Double(p.totalBytes - p.bytes) / 1_000_000 / rate : 0
        let line = String(
            format: "\r%d/%d files, %.1f/%.1f MB, %.1f MB/s, ETA %.0f s   ", p.files, p.totalFiles,
            Double(p.bytes) / 1_000_000, Double(p.totalBytes) / 1_000_000, rate, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func totals(_ o: Restorer.Outcome) {
        let mb = Double(o.downloadedBytes) / 1_000_000
        print(
            String(
                format: "restored %d files, %.1f MB in %.1f s (%.1f MB/s); %d already in place; %d failed",
                o.downloadedFiles, mb, o.seconds, mb / max(o.seconds, 0.001), o.skippedFiles, o.failures.count
            ))
        for failure in o.failures { print("FAILED \(failure.path): \(failure.reason)") }
    }

    static func inPlaceSummary(
        _ o: Restorer.Outcome, plan: RestorePlan, dataDirectory: String, displaced: String?
    ) {
        totals(o)
        let node = plan.manifest.node
        print("")
        print("node \(node.hostname) (\(node.hostID)) restored into \(dataDirectory)")
        if let displaced { print("  files the snapshot does not hold were moved to \(displaced)") }
        print("  before starting Cassandra, in cassandra.yaml:")
        print("    initial_token: \(node.tokens.joined(separator: ","))")
        if let name = node.cassandraClusterName { print("    cluster_name: '\(name)'") }
        if !plan.restoresSystemKeyspace {
            print(
                "  the snapshot has no system keyspaces: the node needs its schema before it loads these tables"
            )
        }
        print("  remove the commit logs of the old data (commitlog_directory), then start Cassandra")
        if !o.failures.isEmpty {
            print("  do NOT start Cassandra until the failed files are restored: rerun this command")
        }
    }

    static func summary(_ o: Restorer.Outcome, plans: [RestorePlan], target: String) {
        totals(o)
        for plan in plans {
            let node = plan.manifest.node
            let root = "\(target)/\(plan.directoryName)"
            print("")
            print(
                "node \(node.hostname) (\(node.hostID)), \(node.datacenter)/\(node.rack), Cassandra \(node.cassandraVersion)"
                    + (plan.directoryName == node.hostID.description ? "" : " → \(plan.directoryName)")
            )
            print("  initial_token: \(node.tokens.joined(separator: ","))")
            if let name = node.cassandraClusterName {
                print("  cluster_name: '\(name)' (cassandra.yaml must say the same)")
            }
            let schemas = plan.entries.filter { $0.path.hasSuffix("/schema.cql") }.count
            let systemKeyspaces = plan.restoresSystemKeyspace
            print(
                "  schema: \(schemas) tables' schema.cql beside their SSTables"
                    + (systemKeyspaces
                        ? "; the system keyspaces are restored too (the whole schema for a node restart)"
                        : "; no system keyspaces in this restore: create the schema before importing"))
            print("  into a running cluster: sstableloader -d <host> \(root)/<keyspace>/<table-dir>")
            print(
                "  into a live table on this node (4.0+): nodetool import <keyspace> <table> \(root)/<keyspace>/<table-dir>"
            )
            for directory in plan.tableDirectories.prefix(5) { print("    \(root)/\(directory)") }
            if plan.tableDirectories.count > 5 {
                print("    … \(plan.tableDirectories.count - 5) more tables")
            }
            print(
                "  a whole node: stop Cassandra, copy \(root)/<keyspace>/ into its data directory, set initial_token, start"
            )
        }
    }

    struct Report: Encodable {
        struct Failure: Encodable {
            var path: String
            var objectKey: String
            var reason: String
        }
        struct Node: Encodable {
            var hostId: String
            var hostname: String
            var directory: String
            var tokens: [String]
            var files: Int
            var bytes: Int64
        }
        var target: String
        var inPlace: Bool
        var displacedTo: String?
        var downloadedFiles: Int
        var downloadedBytes: Int64
        var skippedFiles: Int
        var seconds: Double
        var failures: [Failure]
        var nodes: [Node]

        init(_ o: Restorer.Outcome, plans: [RestorePlan], target: String, inPlace: Bool = false) {
            self.target = target
            self.inPlace = inPlace
            downloadedFiles = o.downloadedFiles
            downloadedBytes = o.downloadedBytes
            skippedFiles = o.skippedFiles
            seconds = o.seconds
            failures = o.failures.map { Failure(path: $0.path, objectKey: $0.objectKey, reason: $0.reason) }
            nodes = plans.map { p in
                Node(
                    hostId: p.manifest.node.hostID.description, hostname: p.manifest.node.hostname,
                    directory: inPlace ? target : "\(target)/\(p.directoryName)",
                    tokens: p.manifest.node.tokens,
                    files: p.entries.count, bytes: p.totalBytes)
            }
        }
    }
}

extension ClusterSnapshotRecord {
    /// Stands for a restore at an instant where a snapshot's record would: it names the nodes
    /// (for `--host-map`), and is never written anywhere.
    /// `manifests` is not empty (`--at` needs `--node`).
    static func pointInTime(_ manifests: [NodeManifest], at instant: Date) -> ClusterSnapshotRecord {
        ClusterSnapshotRecord(
            id: SnapshotID(), cluster: manifests[0].cluster, tag: manifests[0].tag, requestedAt: instant,
            status: .complete,
            nodes: manifests.map {
                NodeEntry(
                    hostID: $0.node.hostID, hostname: $0.node.hostname, datacenter: $0.node.datacenter,
                    rack: $0.node.rack, status: .complete, takenAt: instant)
            })
    }
}
