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
        discussion: """
            Every name is checked and free space is counted before anything is written; each file \
            is checked against its manifest's size and SHA-256 before it gets its final name. A \
            rerun skips files already in place, so an interrupted restore resumes.
            """)

    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @Option(name: .customLong("node"), help: "Host ID or hostname; repeatable.") var nodes: [String] = []
    @Flag(help: "Every node of the snapshot that is complete.") var all = false
    @Option(help: "Target directory.") var to: String
    @Option(help: "Only this keyspace; repeatable.") var keyspace: [String] = []
    @Option(help: "Only this table, as keyspace.table; repeatable.") var table: [String] = []
    @Option(help: "Files downloaded at once.") var concurrency = 4
    @OptionGroup var repository: RepositoryOptions

    func validate() throws {
        if all == !nodes.isEmpty { throw ValidationError("give --node (repeatable) or --all") }
        for t in table where t.split(separator: ".").count != 2 {
            throw ValidationError("--table \(t.debugDescription) is not keyspace.table")
        }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 64") }
    }

    func run() async throws {
        try await withRepositoryErrors {
            let repo = try await repository.open()
            let record = try await repo.clusterSnapshot(snapshot)
            let hosts =
                all
                ? Set(record.nodes.filter { $0.status == .complete }.map(\.hostID))
                : try resolveNodes(nodes, in: record)
            for host in hosts {
                let entry = record.nodes.first { $0.hostID == host }!
                guard entry.status == .complete else {
                    throw CLIError(
                        message: "node \(host) is \(entry.status.rawValue) in snapshot \(record.tag): "
                            + (entry.error ?? "it has no manifest"),
                        exitCode: ExitCodes.failure)
                }
            }
            let filter = RestorePlan.Filter(keyspaces: Set(keyspace), tables: Set(table))
            var plans: [RestorePlan] = []
            for host in hosts.sorted() {
                plans.append(
                    try RestorePlan(
                        manifest: try await repo.nodeManifest(host: host, tag: record.tag), keys: repo.keys,
                        filter: filter))
            }
            let json = repository.coordinator.json
            let live = !json && isatty(STDERR_FILENO) == 1
            let outcome = try await Restorer(repository: repo, concurrency: concurrency).restore(
                plans, into: to, onProgress: { if live { RestoreOutput.progress($0) } })
            if live { FileHandle.standardError.write(Data("\n".utf8)) }
            let target = try TargetPath.absolute(to)
            if json {
                print(try JSONOutput.pretty(RestoreOutput.Report(outcome, plans: plans, target: target)))
            } else {
                RestoreOutput.summary(outcome, plans: plans, target: target)
            }
            if !outcome.failures.isEmpty { throw ExitCode(ExitCodes.failure) }
        }
    }
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

    static func summary(_ o: Restorer.Outcome, plans: [RestorePlan], target: String) {
        let mb = Double(o.downloadedBytes) / 1_000_000
        print(
            String(
                format: "restored %d files, %.1f MB in %.1f s (%.1f MB/s); %d already in place; %d failed",
                o.downloadedFiles, mb, o.seconds, mb / max(o.seconds, 0.001), o.skippedFiles, o.failures.count
            ))
        for failure in o.failures { print("FAILED \(failure.path): \(failure.reason)") }
        for plan in plans {
            let node = plan.manifest.node
            let root = "\(target)/\(node.hostID)"
            print("")
            print(
                "node \(node.hostname) (\(node.hostID)), \(node.datacenter)/\(node.rack), Cassandra \(node.cassandraVersion)"
            )
            print("  initial_token: \(node.tokens.joined(separator: ","))")
            if plan.entries.contains(where: { $0.path == "\(node.hostID)/schema.cql" }) {
                print("  schema: \(root)/schema.cql (each table's schema.cql is beside its SSTables)")
            }
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
        var downloadedFiles: Int
        var downloadedBytes: Int64
        var skippedFiles: Int
        var seconds: Double
        var failures: [Failure]
        var nodes: [Node]

        init(_ o: Restorer.Outcome, plans: [RestorePlan], target: String) {
            self.target = target
            downloadedFiles = o.downloadedFiles
            downloadedBytes = o.downloadedBytes
            skippedFiles = o.skippedFiles
            seconds = o.seconds
            failures = o.failures.map { Failure(path: $0.path, objectKey: $0.objectKey, reason: $0.reason) }
            nodes = plans.map { p in
                Node(
                    hostId: p.manifest.node.hostID.description, hostname: p.manifest.node.hostname,
                    directory: "\(target)/\(p.manifest.node.hostID)", tokens: p.manifest.node.tokens,
                    files: p.entries.count, bytes: p.totalBytes)
            }
        }
    }
}
