import ArgumentParser
import CassnapAPI
import CassnapCore
import Foundation

/// `cassnap status`: one screen for people — nodes and their lag, each schedule's last
/// snapshot, and the recent snapshots that were not complete, with why.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Nodes and their lag, each schedule's last snapshot, and recent failures, on one screen.")
    @Option(help: "How many of the newest snapshots to look through for failures.") var recent = 20
    @OptionGroup var options: CoordinatorOptions

    struct Report: Codable {
        var generatedAt: Date
        var nodes: [AdminAPI.Node]
        var schedules: [AdminAPI.ScheduleInfo]
        var recentFailures: [AdminAPI.SnapshotDetail]
    }

    func validate() throws {
        guard (1...1000).contains(recent) else { throw ValidationError("--recent must be 1 to 1000") }
    }

    func run() async throws {
        try await CoordinatorSession.run(options) { session in
            let client = session.client
            let nodes = try await client.nodes()
            let schedules = try await client.schedules()
            var failures: [AdminAPI.SnapshotDetail] = []
            for summary in try await client.listSnapshots().suffix(recent).reversed()
            where summary.status == .partial || summary.status == .failed {
                failures.append(try await client.snapshot(summary.id.description))
            }
            let report = Report(
                generatedAt: Date(), nodes: nodes, schedules: schedules, recentFailures: failures)
            if session.json {
                try session.printJSON(report)
            } else {
                print(Self.render(report, recent: recent))
            }
        }
    }

    static func render(_ r: Report, recent: Int) -> String {
        var out: [String] = []
        let live = r.nodes.filter {
            ($0.lastHeartbeat.map { r.generatedAt.timeIntervalSince($0) <= 90 }) ?? false
        }
        let queued = r.nodes.reduce(0) { $0 + $1.queuedFiles }
        let worstOffset = r.nodes.compactMap { $0.clockOffsetSeconds.map(abs) }.max()
        out.append(
            "nodes: \(r.nodes.count) registered, \(live.count) with a heartbeat in the last 90 s; "
                + "\(queued) files waiting for upload; largest clock offset \(Format.seconds(worstOffset))")
        if !r.nodes.isEmpty {
            var table = TextTable(
                "HOSTNAME", "DC/RACK", "LAST HEARTBEAT", "CLOCK OFFSET", "QUEUED", "OLDEST QUEUED")
            for n in r.nodes {
                let age =
                    n.lastHeartbeat.map { Format.seconds(r.generatedAt.timeIntervalSince($0)) + " ago" }
                    ?? "never"
                table.add(
                    n.hostname, "\(n.datacenter)/\(n.rack)", age, Format.seconds(n.clockOffsetSeconds),
                    "\(n.queuedFiles)",
                    Format.seconds(n.oldestQueuedAge))
            }
            out.append(table.render())
        }
        out.append("")
        out.append("schedules: \(r.schedules.count)")
        if !r.schedules.isEmpty { out.append(ScheduleReport.table(r.schedules)) }
        out.append("")
        if r.recentFailures.isEmpty {
            out.append("recent failures: none in the last \(recent) snapshots")
        } else {
            out.append("recent failures (of the last \(recent) snapshots):")
            for d in r.recentFailures {
                out.append(
                    "  \(d.summary.tag) \(d.summary.status.rawValue), \(Format.instant(d.summary.requestedAt)): "
                        + "\(d.summary.completedNodes)/\(d.summary.expectedNodes) nodes complete")
                for node in d.nodes where node.status != .complete {
                    out.append("    \(node.hostname): \(node.error ?? node.status.rawValue)")
                }
            }
        }
        return out.joined(separator: "\n")
    }
}
