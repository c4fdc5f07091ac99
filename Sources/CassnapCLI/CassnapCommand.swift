import ArgumentParser
import CassnapAPI

/// The root of the `cassnap` command tree. Each subcommand lives in its own file and hands its
/// work to a library type; exit codes are defined once, in `ExitCodes`.
package struct CassnapCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "cassnap",
        abstract: "Cluster-wide, point-in-time backups for Apache Cassandra.",
        discussion: """
            The cassnap CLI talks to a cassnap coordinator. Take a cluster snapshot at one chosen \
            instant, list snapshots, see which SSTables on which nodes form one, and rebuild the \
            catalog from the bucket.

            Exit codes: \(ExitCodes.summary)
            """,
        version: CassnapVersion.string,
        subcommands: [
            SnapshotCommand.self, ScheduleCommand.self, StatusCommand.self, NodesCommand.self,
            SSTablesCommand.self,
            CatalogCommand.self,
            VerifyCommand.self, RestoreCommand.self, PruneCommand.self,
            StoreCommand.self,
        ]
    )

    package init() {}
}

/// Options every command that talks to the coordinator shares.
package struct CoordinatorOptions: ParsableArguments {
    @Option(help: "Coordinator base URL (env CASSNAP_COORDINATOR; default http://127.0.0.1:8420).")
    package var coordinator: String?

    @Option(help: "Admin bearer token (env CASSNAP_TOKEN). Never logged.")
    package var token: String?

    @Option(
        name: .customLong("ca-file"),
        help: "PEM CA bundle that signed an https:// coordinator's certificate (env CASSNAP_CA_FILE).")
    package var caFile: String?

    @Flag(help: "Print JSON for scripts instead of tables.")
    package var json = false

    package init() {}
}

/// The CLI's exit codes, documented in `--help` and the README.
package enum ExitCodes {
    package static let success: Int32 = 0
    package static let failure: Int32 = 1
    package static let usage: Int32 = 64
    package static let notFound: Int32 = 3
    package static let partial: Int32 = 4
    package static let unavailable: Int32 = 69
    package static let notImplemented: Int32 = 70
    package static let unauthorized: Int32 = 77

    package static let summary =
        "0 ok, 1 failed (or snapshot failed), 3 unknown id, 4 snapshot partial, 64 bad usage (flag values), "
        + "69 coordinator unreachable, 70 not implemented yet, 77 token missing or refused."
}

/// Commands whose behaviour lands in a later step say so plainly and exit non-zero.
func notYetImplemented(_ what: String) throws -> Never {
    print("cassnap: '\(what)' is not implemented yet; see README.md 'Status'.")
    throw ExitCode(ExitCodes.notImplemented)
}
