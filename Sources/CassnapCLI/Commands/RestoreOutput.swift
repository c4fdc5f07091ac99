import ArgumentParser
import CassnapCore
import CassnapRepository
import Foundation

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
