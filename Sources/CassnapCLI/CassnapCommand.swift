import ArgumentParser
import CassnapAPI
import CassnapCore

/// The root of the `cassnap` command tree. Each subcommand lives in its own file and hands its
/// work to a library type; exit codes are defined once for every executable, in `ExitStatus` (CassnapCore).
package struct CassnapCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "cassnap",
        abstract: "Cluster-wide, point-in-time backups for Apache Cassandra.",
        discussion: """
            The cassnap CLI talks to a cassnap coordinator. Take a cluster snapshot at one chosen \
            instant, list snapshots, see which SSTables on which nodes form one, and rebuild the \
            catalog from the bucket.

            Exit codes: \(ExitStatus.summary)
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
