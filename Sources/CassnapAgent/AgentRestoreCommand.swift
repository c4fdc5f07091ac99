import ArgumentParser
import CassnapCLI
import CassnapCore
import CassnapObjectStore
import CassnapRepository
import CassnapStoreFactory
import Foundation

extension AgentCommand {
    /// `cassnap-agent restore SNAPSHOT (--to DIR | --in-place DATA_DIR)`: the CLI's restore, on
    /// a node, reading the store and cluster from the agent's configuration. No coordinator:
    /// this is the command for the morning the coordinator is gone too.
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Restore a snapshot from the bucket with the agent's configuration (no coordinator needed).",
            discussion: RestoreOptions.discussion
                + " Without --node or --all it restores this node: the configured host ID, else the one the agent remembers, else nodetool info's."
        )

        @Option(help: "Agent configuration file (YAML).") var config: String?
        @Option(help: "Object store URL (default: the configuration's store).") var store: String?
        @Option(help: "Cluster name in object keys (default: the configuration's cluster).") var cluster:
            String?
        @Flag(help: "Print JSON for scripts instead of the summary.") var json = false
        @OptionGroup var options: RestoreOptions

        func validate() throws { try options.check() }

        func run() async throws {
            var c: AgentConfiguration
            do {
                c = try config.map { try AgentConfiguration.load(path: $0) } ?? AgentConfiguration()
            } catch {
                FileHandle.standardError.write(Data("cassnap-agent: \(error)\n".utf8))
                throw ExitCode(ExitStatus.configuration)
            }
            if let store { c.store = store }
            if let cluster { c.cluster = cluster }
            let configuration = c
            var options = options
            try await withRepositoryErrors {
                guard let url = configuration.store else {
                    throw CLIError.usage("no store: give --store URL or a --config that sets store")
                }
                if options.nodes.isEmpty && !options.all {
                    options.nodes = [try await Self.thisNode(configuration).description]
                }
                let keys: ObjectKeys
                do {
                    keys = ObjectKeys(
                        cluster: try await NodeFacts.clusterName(nodetool: configuration.nodetool).lookUp(
                            configured: configuration.cluster, stateDirectory: configuration.stateDirectory))
                } catch {
                    throw CLIError.usage("cluster: \(error); give --cluster NAME")
                }
                var settings = StoreSettings()
                settings.onRetry = { operation, key, error, attempt in
                    FileHandle.standardError.write(
                        Data(
                            "cassnap-agent: retrying \(operation) \(key) (attempt \(attempt + 1)): \(error)\n"
                                .utf8))
                }
                let opened: any ObjectStore
                do { opened = try ObjectStoreFactory.open(url: url, settings: settings) } catch {
                    throw CLIError.usage("store \(url): \(error)")
                }
                try await options.perform(with: Repository(store: opened, keys: keys), json: json)
            }
        }

        /// This node's host ID without starting the agent or creating its state: configured,
        /// remembered by an earlier run, or from a running Cassandra.
        static func thisNode(_ c: AgentConfiguration) async throws -> HostID {
            do {
                return try await NodeFacts.hostID(nodetool: c.nodetool).lookUp(
                    configured: c.hostID, stateDirectory: c.stateDirectory)
            } catch {
                throw CLIError.usage(
                    "cannot tell which node to restore (no host_id in the configuration, none remembered in "
                        + "\(c.stateDirectory), and nodetool info failed: \(error)); give --node HOST_ID|HOSTNAME"
                )
            }
        }

    }
}
