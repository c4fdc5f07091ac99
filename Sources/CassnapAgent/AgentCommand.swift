import ArgumentParser
import CassnapAPI

/// `cassnap-agent`: runs on every Cassandra node, watches its data directories and ships
/// finished SSTables to the object store.
package struct AgentCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "cassnap-agent",
        abstract: "The cassnap agent: ships a Cassandra node's SSTables to object storage.",
        version: CassnapVersion.string,
        subcommands: [Run.self]
    )

    package init() {}

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Watch the data directories and upload snapshots, incremental backups and SSTables.")
        @Option(help: "Agent configuration file (YAML).") var config: String?
        @Option(name: .customLong("data-dir"), help: "A Cassandra data directory (repeatable, for JBOD).")
        var dataDirs: [String] = []
        @Option(help: "Object store URL: s3://bucket/prefix, gs://bucket/prefix or file:///path.") var store:
            String?
        @Option(name: .customLong("state-dir"), help: "Where the agent keeps its SQLite state.") var stateDir:
            String?
        @Option(help: "Coordinator base URL.") var coordinator: String?
        @Option(help: "Agent bearer token for the coordinator.") var token: String?
        @Option(help: "Path of nodetool.") var nodetool: String = "nodetool"
        @Flag(help: "Scan, upload everything pending, then exit (backfill).") var once = false

        func run() async throws {
            print("cassnap-agent: 'run' is not implemented yet; see README.md 'Status'.")
            throw ExitCode(70)
        }
    }
}
