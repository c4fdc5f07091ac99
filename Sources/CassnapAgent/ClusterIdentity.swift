import CassnapCore
import Foundation
import Logging

/// The cluster name in object keys: from the configuration, else Cassandra's `cluster_name`
/// (`nodetool describecluster`), else the one remembered from an earlier start (Cassandra may
/// be down while the agent starts). The coordinator's default is Cassandra's default, so an
/// agent and a coordinator started with their defaults agree.
enum ClusterIdentity {
    struct Unknown: Error, CustomStringConvertible {
        var detail: String
        var description: String {
            "cannot learn the cluster name: \(detail); set cluster in the configuration or --cluster"
        }
    }

    static let metaKey = "cluster"

    static func resolve(configuration: AgentConfiguration, state: AgentState, logger: Logger) async throws
        -> ClusterName
    {
        if let configured = configuration.cluster {
            let cluster = try ClusterName(configured)
            try state.setMeta(metaKey, cluster.rawValue)
            return cluster
        }
        let remembered = try state.meta(metaKey)
        do {
            let cluster = try await fromNodetool(configuration.nodetool)
            if let remembered, remembered != cluster.rawValue {
                logger.warning(
                    "Cassandra's cluster name changed since the last start: backups now go under the new name",
                    metadata: ["cluster.name": "\(cluster)", "cluster.previous_name": "\(remembered)"])
            }
            try state.setMeta(metaKey, cluster.rawValue)
            return cluster
        } catch {
            if let remembered {
                logger.warning(
                    "nodetool describecluster failed; using the remembered cluster name",
                    metadata: ["error": "\(error)", "cluster.name": "\(remembered)"])
                return try ClusterName(remembered)
            }
            throw Unknown(detail: "\(error)")
        }
    }

    /// Without state: configured, remembered by an earlier run in `stateDirectory`, or from a
    /// running Cassandra (for `cassnap-agent restore`).
    static func lookUp(_ c: AgentConfiguration) async throws -> ClusterName {
        if let configured = c.cluster { return try ClusterName(configured) }
        if FileManager.default.fileExists(atPath: c.stateDirectory + "/agent.sqlite"),
            let remembered = try? AgentState(directory: c.stateDirectory).meta(metaKey)
        {
            return try ClusterName(remembered)
        }
        return try await fromNodetool(c.nodetool)
    }

    static func fromNodetool(_ nodetool: String) async throws -> ClusterName {
        let text = try await Nodetool(executable: nodetool).run(["describecluster"])
        guard let name = Nodetool.clusterName(describecluster: text) else {
            throw Unknown(detail: "\(nodetool) describecluster printed no Name line")
        }
        return try ClusterName(name)
    }
}
