import ArgumentParser
import CassnapAPI
import CassnapCore
import CassnapStoreFactory
import Foundation
import Logging
import ServiceLifecycle

/// `cassnap-agent`: runs on every Cassandra node, watches its data directories and ships
/// finished SSTables to the object store.
package struct AgentCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "cassnap-agent",
        abstract: "The cassnap agent: ships a Cassandra node's SSTables to object storage.",
        version: CassnapVersion.string,
        subcommands: [Run.self, Restore.self]
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
        @Option(
            help:
                "Agent bearer token for the coordinator (visible in ps: prefer --token-file or CASSNAP_AGENT_TOKEN)."
        )
        var token: String?
        @Option(name: .customLong("token-file"), help: "A file holding the coordinator token.")
        var tokenFile: String?
        @Option(
            name: .customLong("coordinator-ca-file"),
            help: "PEM CA bundle that signed an https:// coordinator's certificate.")
        var coordinatorCAFile: String?
        @Option(help: "Path of nodetool.") var nodetool: String?
        @Option(help: "Cluster name used in object keys.") var cluster: String?
        @Option(name: .customLong("host-id"), help: "The node's host ID (default: from nodetool info).")
        var hostID: String?
        @Option(help: "Trees to ship, comma-separated: snapshots,backups,live.") var watch: String?
        @Option(help: "Files uploaded at once.") var concurrency: Int?
        @Option(help: "Upload bandwidth limit, e.g. 50MiB/s.") var bandwidth: String?
        @Option(name: .customLong("part-size"), help: "Multipart part size, e.g. 16MiB.") var partSize:
            String?
        @Option(name: .customLong("multipart-threshold"), help: "Multipart from this size, e.g. 64MiB.")
        var multipartThreshold: String?
        @Flag(name: .customLong("delete-backups-after-upload"), help: "Delete backups/ links once uploaded.")
        var deleteBackups = false
        @Option(
            name: .customLong("reconcile-interval"), help: "Disk/state/bucket comparison interval, e.g. 5m.")
        var reconcileInterval: String?
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
        var logLevel: String?
        @Option(
            name: .customLong("metrics-textfile"),
            help: "Write metrics here every 15 s for node_exporter's textfile collector (a .prom path).")
        var metricsTextfile: String?
        @Flag(help: "Scan, upload everything pending, then exit (backfill).") var once = false

        func run() async throws {
            MallocTuning.limitArenas()
            let configuration: AgentConfiguration
            do {
                configuration = try await resolvedConfiguration()
            } catch {
                printError("cassnap-agent: \(error)")
                throw ExitCode(ExitStatus.configuration)
            }
            let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
            var logger = Logger(label: "cassnap.agent")
            logger.logLevel = level
            let agent: Agent
            do {
                agent = try await Agent.build(configuration: configuration, once: once, logger: logger)
            } catch let error as AgentConfigurationError {
                printError("cassnap-agent: \(error)")
                throw ExitCode(ExitStatus.configuration)
            } catch {
                printError("cassnap-agent: cannot start: \(error)")
                throw ExitCode(ExitStatus.cannotStart)
            }
            if once {
                let summary = try await agent.runOnce()
                print(summary.description)
                if !summary.succeeded { throw ExitCode(ExitStatus.failure) }
                return
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: agent)], gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            try await group.run()
        }

        /// The file, then the flags over it, then validation naming where each value came from.
        /// The file, then the flags; without a store from either, `BUCKET_NAME` on the cloud the
        /// node runs in (EC2 or GCE, from their metadata servers) names one.
        func resolvedConfiguration() async throws -> AgentConfiguration {
            var c = try config.map { try AgentConfiguration.load(path: $0) } ?? AgentConfiguration()
            if !dataDirs.isEmpty { c.dataDirectories = dataDirs }
            if let store { c.store = store }
            if let stateDir { c.stateDirectory = stateDir }
            if let coordinator { c.coordinator.url = coordinator }
            if let tokenFile {
                // The flag overrides the file's keys, a token given there included.
                c.coordinator.token = nil
                c.coordinator.tokenFile = tokenFile
            }
            if let token { c.coordinator.token = token }
            if let coordinatorCAFile { c.coordinator.caFile = coordinatorCAFile }
            if let nodetool { c.nodetool = nodetool }
            if let cluster { c.cluster = cluster }
            if let hostID { c.hostID = hostID }
            if let watch { c.watch = try AgentConfiguration.Watch(list: watch) }
            if let concurrency { c.upload.concurrency = concurrency }
            func flag<T>(_ name: String, _ parse: () throws -> T) throws -> T {
                do { return try parse() } catch {
                    let problem = (error as? AgentConfigurationError)?.problem ?? "\(error)"
                    throw AgentConfigurationError(source: name, key: nil, problem: problem)
                }
            }
            if let bandwidth {
                c.upload.bandwidth = try flag("--bandwidth") { try ByteRate(parsing: bandwidth) }
            }
            if let partSize {
                c.upload.partSize = try flag("--part-size") { try ByteSize(parsing: partSize) }
            }
            if let multipartThreshold {
                c.upload.multipartThreshold = try flag("--multipart-threshold") {
                    try ByteSize(parsing: multipartThreshold)
                }
            }
            if deleteBackups { c.upload.deleteBackupsAfterUpload = true }
            if let reconcileInterval {
                c.reconcileInterval = try flag("--reconcile-interval") {
                    try Interval(parsing: reconcileInterval)
                }
            }
            if let logLevel { c.logLevel = logLevel }
            if let metricsTextfile { c.metricsTextfile = metricsTextfile }
            if c.store?.isEmpty ?? true, let detected = await CloudDetector().detectedDefaultStore() {
                c.store = detected
            }
            try c.validate(source: config ?? "command line")
            return c
        }

        private func printError(_ message: String) {
            FileHandle.standardError.write(Data((message + "\n").utf8))
        }
    }
}
