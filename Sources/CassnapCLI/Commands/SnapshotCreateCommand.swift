import ArgumentParser
import CassnapAPI
import CassnapCore
import Foundation

extension SnapshotCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a cluster snapshot on every live node at one chosen instant.",
            discussion: "Exit codes with --wait: 0 complete, 4 partial, 1 failed.")
        @OptionGroup var options: CoordinatorOptions
        @Option(help: "The instant, ISO 8601 (e.g. 2026-11-23T02:00:00Z).") var at: String?
        @Option(name: .customLong("in"), help: "A delay from now instead of --at, e.g. 30s, 5m.") var delay:
            String?
        @Option(help: "Only these keyspaces (repeatable).") var keyspace: [String] = []
        @Option(help: "Only these tables, as ks.table (repeatable).") var table: [String] = []
        @Option(help: "The snapshot tag (default: generated from the instant).") var tag: String?
        @Option(help: "Seconds after the instant that nodes have to report (default: the coordinator's).")
        var deadline: Double?
        @Flag(help: "Wait until the snapshot is complete, partial or failed, showing progress.") var wait =
            false

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                var request = AdminAPI.CreateSnapshot(
                    keyspaces: keyspace.isEmpty ? nil : keyspace, tables: table.isEmpty ? nil : table,
                    tag: tag,
                    deadlineSeconds: deadline)
                switch (at, delay) {
                case (let at?, nil): request.at = try FlagValues.instant(at, flag: "--at")
                case (nil, let delay?): request.delaySeconds = try FlagValues.duration(delay, flag: "--in")
                case (_?, _?): throw CLIError.usage("give either --at or --in, not both")
                case (nil, nil):
                    throw CLIError.usage(
                        "give the instant with --at 2026-11-23T02:00:00Z or a delay with --in 30s")
                }
                let created = try await session.client.createSnapshot(request)
                guard wait else {
                    if session.json {
                        try session.printJSON(created)
                    } else {
                        print(SnapshotReport.detail(created))
                    }
                    return
                }
                if !session.json {
                    print(
                        "snapshot \(created.summary.tag) (\(created.summary.id)) at "
                            + "\(Format.instant(created.summary.requestedAt)) on \(created.summary.expectedNodes) nodes"
                    )
                }
                let final = try await SnapshotWaiter(client: session.client).wait(
                    for: created.summary.id.description
                ) {
                    line in if !session.json { print(line) }
                }
                if session.json { try session.printJSON(final) } else { print(SnapshotReport.detail(final)) }
                switch final.summary.status {
                case .complete: return
                case .partial: throw ExitCode(ExitStatus.partial)
                case .failed, .pending: throw ExitCode(ExitStatus.failure)
                }
            }
        }
    }
}
