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
