import ArgumentParser
import CassnapAPI

/// `cassnap-coordinator`: the catalog and scheduler for cluster snapshots.
package struct CoordinatorCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "cassnap-coordinator",
        abstract: "The cassnap coordinator: the cluster-wide snapshot catalog and scheduler.",
        version: CassnapVersion.string,
        subcommands: [Run.self]
    )

    package init() {}

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the agent and admin HTTP API.")
        @Option(help: "Coordinator configuration file (YAML).") var config: String?
        @Option(help: "Address to listen on.") var listen: String = "127.0.0.1:8420"
        @Option(help: "SQLite catalog file.") var db: String = "cassnap-catalog.sqlite"
        @Option(help: "Object store URL.") var store: String?

        func run() async throws {
            print("cassnap-coordinator: 'run' is not implemented yet; see README.md 'Status'.")
            throw ExitCode(70)
        }
    }
}
