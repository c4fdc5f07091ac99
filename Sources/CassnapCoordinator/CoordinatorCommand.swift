import ArgumentParser
import CassnapAPI
import CassnapCore
import CassnapStoreFactory
import Foundation
import Logging
import ServiceLifecycle

/// `cassnap-coordinator`: the catalog and scheduler for cluster snapshots.
package struct CoordinatorCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "cassnap-coordinator",
        abstract: "The cassnap coordinator: the cluster-wide snapshot catalog and scheduler.",
        version: CassnapVersion.string,
        subcommands: [Run.self, Rebuild.self]
    )

    package init() {}

    /// Settings shared by `run` and `rebuild`: a YAML file, then environment, then flags.
    struct Settings: ParsableArguments {
        @Option(help: "Coordinator configuration file (YAML), e.g. /etc/cassnap/coordinator.yaml.")
        var config: String?
        @Option(help: "Address to listen on (default 127.0.0.1:8420).") var listen: String?
        @Option(help: "SQLite catalog file (default cassnap-catalog.sqlite).") var db: String?
        @Option(help: "Object store URL: s3://bucket/prefix, gs://bucket/prefix, file:///path.") var store:
            String?
        @Option(help: "Cassandra cluster name, as in object keys.") var cluster: String?
        @Option(
            name: .customLong("agent-token"),
            help: "Bearer token of agents (prefer env CASSNAP_AGENT_TOKEN: flags show in ps).")
        var agentToken: String?
        @Option(
            name: .customLong("admin-token"),
            help: "Bearer token of admins and the CLI (prefer env CASSNAP_ADMIN_TOKEN).")
        var adminToken: String?
        @Option(
            name: .customLong("agent-token-file"), help: "File whose first line is the agents' bearer token.")
        var agentTokenFile: String?
        @Option(
            name: .customLong("admin-token-file"), help: "File whose first line is the admins' bearer token.")
        var adminTokenFile: String?
        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
        var logLevel: String?

        /// Without a store from the file, the environment or a flag, `BUCKET_NAME` on the cloud
        /// the coordinator runs in (EC2 or GCE) names one.
        func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) async throws
            -> CoordinatorConfiguration
        {
            var c =
                try config.map { try CoordinatorConfiguration.load(yamlFile: $0) }
                ?? CoordinatorConfiguration()
            if let agentTokenFile {
                c.agentTokenFile = agentTokenFile
                c.agentToken = ""
            }
            if let adminTokenFile {
                c.adminTokenFile = adminTokenFile
                c.adminToken = ""
            }
            try c.readTokenFiles()
            c.applyEnvironment(environment)
            if let listen { c.listen = listen }
            if let db { c.database = db }
            if let store { c.store = store }
            if let cluster { c.cluster = cluster }
            if let agentToken { c.agentToken = agentToken }
            if let adminToken { c.adminToken = adminToken }
            if let logLevel { c.logLevel = logLevel }
            if c.store.isEmpty,
                let detected = await CloudDetector(environment: environment).detectedDefaultStore()
            {
                c.store = detected
            }
            try c.validate()
            return c
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the agent and admin HTTP API until SIGTERM or SIGINT.")
        @OptionGroup var settings: Settings

        func run() async throws {
            let configuration = try await resolveOrExit(settings)
            let logger = coordinatorLogger(configuration.logLevel)
            let coordinator = try startOrExit {
                try buildApplication(configuration: configuration, logger: logger)
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: [coordinator.application], gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            try await group.run()
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recreate the catalog's snapshots from the bucket alone, without a running coordinator."
        )
        @OptionGroup var settings: Settings

        func run() async throws {
            let configuration = try await resolveOrExit(settings)
            let logger = coordinatorLogger(configuration.logLevel)
            let keys = try configuration.objectKeys()
            let catalog = try SQLiteCatalog(
                path: configuration.database, cluster: keys.cluster, logger: logger)
            let store = try ObjectStoreFactory.open(url: configuration.store)
            let result = try await CatalogRebuilder(
                store: store, keys: keys, logger: logger,
                maximumObjectBytes: configuration.snapshots.maximumManifestBytes
            ).rebuild(into: catalog)
            print("rebuilt \(result.snapshots) snapshots, \(result.nodes) nodes, \(result.files) files")
            for object in result.skipped {
                FileHandle.standardError.write(
                    Data("skipped unreadable \(object.key): \(object.reason)\n".utf8))
            }
            if !result.skipped.isEmpty { throw ExitCode(ExitStatus.failure) }
        }
    }
}

/// Configuration mistakes become one line naming the setting and `ExitStatus.configuration`.
private func resolveOrExit(_ settings: CoordinatorCommand.Settings) async throws -> CoordinatorConfiguration {
    do { return try await settings.resolve() } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data("cassnap-coordinator: \(error)\n".utf8))
        throw ExitCode(ExitStatus.configuration)
    }
}

/// Start-up failures of a valid configuration (the catalog, the store, the listen address)
/// become one line and `ExitStatus.cannotStart`; a setting found wrong only now is still a
/// configuration error.
private func startOrExit<T>(_ start: () throws -> T) throws -> T {
    do { return try start() } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data("cassnap-coordinator: \(error)\n".utf8))
        throw ExitCode(ExitStatus.configuration)
    } catch {
        FileHandle.standardError.write(Data("cassnap-coordinator: cannot start: \(error)\n".utf8))
        throw ExitCode(ExitStatus.cannotStart)
    }
}

/// The coordinator's logger at the configured level; the executable set up the logging system.
private func coordinatorLogger(_ level: String) -> Logger {
    var logger = Logger(label: "cassnap.coordinator")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
