import CassnapAPI
import CassnapClient
import CassnapCore
import Foundation

/// Human-readable renderings of API answers; `--json` prints the answers themselves.
package enum SnapshotReport {
    package static func list(_ snapshots: [AdminAPI.SnapshotSummary]) -> String {
        guard !snapshots.isEmpty else { return "no snapshots" }
        var table = TextTable("ID", "TAG", "STATUS", "AT", "NODES", "FILES", "SIZE", "SPREAD")
        for s in snapshots {
            table.add(
                s.id.description, s.tag.rawValue, s.status.rawValue, Format.instant(s.requestedAt),
                "\(s.completedNodes)/\(s.expectedNodes)", "\(s.files)", Format.bytes(s.bytes),
                Format.seconds(s.spreadSeconds))
        }
        return table.render()
    }

    package static func detail(_ d: AdminAPI.SnapshotDetail) -> String {
        let s = d.summary
        var lines = [
            "snapshot  \(s.id)",
            "tag       \(s.tag)",
            "status    \(s.status.rawValue)",
            "at        \(Format.instant(s.requestedAt))",
            "deadline  \(Format.instant(s.deadline))",
            "nodes     \(s.completedNodes)/\(s.expectedNodes) complete",
            "files     \(s.files) (\(Format.bytes(s.bytes)))",
            "spread    \(Format.seconds(s.spreadSeconds))",
        ]
        if !d.keyspaces.isEmpty { lines.append("keyspaces \(d.keyspaces.joined(separator: ", "))") }
        if !d.tables.isEmpty { lines.append("tables    \(d.tables.joined(separator: ", "))") }
        var table = TextTable("HOST ID", "HOSTNAME", "STATUS", "TAKEN AT", "FILES", "SIZE", "ERROR")
        for n in d.nodes {
            table.add(
                n.hostID.description, n.hostname, n.status.rawValue, Format.instant(n.takenAt), "\(n.files)",
                Format.bytes(n.bytes), n.error ?? "")
        }
        return lines.joined(separator: "\n") + "\n\n" + table.render()
    }

    package static func sstables(_ sstables: [AdminAPI.SnapshotSSTable]) -> String {
        var printer = SSTableTable()
        return ([printer.add(sstables)].compactMap { $0 } + [printer.summary]).joined(separator: "\n")
    }

    /// `snapshot sstables` as a table printed page by page: the first page sets the columns
    /// (later, wider cells push their row right), the totals line comes last. One page prints
    /// exactly like the whole table at once.
    package struct SSTableTable {
        private var widths: [Int]?
        private var sstables = 0
        private var files = 0
        private var bytes: Int64 = 0

        package init() {}

        /// The lines for one page, the header with the first rows; nil for an empty page.
        package mutating func add(_ page: [AdminAPI.SnapshotSSTable]) -> String? {
            guard !page.isEmpty else { return nil }
            var table = TextTable(
                "NODE", "KEYSPACE", "TABLE", "SSTABLE", "COMPONENT", "SIZE", "SHA256", "OBJECT KEY")
            for t in page {
                let name = t.index.map { "\(t.table).\($0)" } ?? t.table
                for c in t.components {
                    table.add(
                        t.hostname.isEmpty ? t.hostID.description : t.hostname, t.keyspace, name, t.sstable,
                        SnapshotReport.component(c.fileName, of: t.sstable), "\(c.size)", c.sha256,
                        c.objectKey)
                    files += 1
                    bytes += c.size
                }
            }
            sstables += page.count
            if let widths { return table.renderRows(widths: widths) }
            widths = table.widths
            return table.render()
        }

        /// `8 SSTables, 32 files, 1.2 MiB`, or `no SSTables`.
        package var summary: String {
            sstables == 0 ? "no SSTables" : "\(sstables) SSTables, \(files) files, \(Format.bytes(bytes))"
        }
    }

    /// `nb-42-big-Data.db` of `nb-42-big` → `Data.db`.
    private static func component(_ fileName: String, of sstable: String) -> String {
        fileName.hasPrefix(sstable + "-") ? String(fileName.dropFirst(sstable.count + 1)) : fileName
    }

    package static func nodes(_ nodes: [AdminAPI.Node]) -> String {
        guard !nodes.isEmpty else { return "no registered nodes" }
        var table = TextTable(
            "HOST ID", "HOSTNAME", "DC", "RACK", "VERSION", "LAST HEARTBEAT", "CLOCK OFFSET", "QUEUED",
            "OLDEST QUEUED")
        for n in nodes {
            table.add(
                n.hostID.description, n.hostname, n.datacenter, n.rack, n.cassandraVersion,
                Format.instant(n.lastHeartbeat), Format.seconds(n.clockOffsetSeconds), "\(n.queuedFiles)",
                Format.seconds(n.oldestQueuedAge))
        }
        return table.render()
    }

    package static func live(_ sstables: [AdminAPI.LiveSSTable]) -> String {
        guard !sstables.isEmpty else { return "no live SSTables at that instant" }
        var table = TextTable("KEYSPACE", "TABLE", "SSTABLE", "APPEARED", "DISAPPEARED")
        for s in sstables {
            table.add(
                s.keyspace, s.table, s.sstable, Format.instant(s.appearedAt), Format.instant(s.disappearedAt))
        }
        return table.render()
    }
}

/// Follows a snapshot until it is no longer pending, reporting each node's change once.
package struct SnapshotWaiter: Sendable {
    package let client: CoordinatorClient
    package var pollInterval: Duration = .seconds(1)
    /// How long past the deadline to keep asking before giving up.
    package var grace: TimeInterval = 60

    package init(client: CoordinatorClient) { self.client = client }

    package func wait(for ref: String, progress: (String) -> Void) async throws -> AdminAPI.SnapshotDetail {
        var seen: [HostID: ClusterSnapshotRecord.NodeStatus] = [:]
        while true {
            let detail = try await client.snapshot(ref)
            for node in detail.nodes where seen[node.hostID] != node.status {
                if seen[node.hostID] != nil || node.status != .pending {
                    var line =
                        "  \(node.hostname.isEmpty ? node.hostID.description : node.hostname): \(node.status.rawValue)"
                    if let takenAt = node.takenAt { line += " at \(Format.instant(takenAt))" }
                    if node.status == .complete {
                        line += ", \(node.files) files, \(Format.bytes(node.bytes))"
                    }
                    if let error = node.error { line += " (\(error))" }
                    progress(line)
                }
                seen[node.hostID] = node.status
            }
            if detail.summary.status != .pending { return detail }
            if Date() > detail.summary.deadline.addingTimeInterval(grace) {
                throw CLIError(
                    message:
                        "snapshot \(detail.summary.tag) is still pending \(Int(grace)) s after its deadline",
                    exitCode: ExitStatus.failure)
            }
            try await Task.sleep(for: pollInterval)
        }
    }
}
