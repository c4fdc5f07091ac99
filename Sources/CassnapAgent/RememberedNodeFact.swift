import CassnapCore
import Foundation
import Logging

/// Something about the node that the agent takes from its configuration, else from nodetool,
/// else from what it remembered at an earlier start (Cassandra may be down while the agent
/// starts): the host ID (`nodetool info`) and the cluster name (`nodetool describecluster`).
struct RememberedNodeFact<Value: CustomStringConvertible & Sendable>: Sendable {
    /// For messages: "host ID", "cluster name".
    let what: String
    /// The `meta` key of the agent's state, and the log metadata key.
    let metaKey: String
    let logKey: String
    let parse: @Sendable (String) throws -> Value
    let fromNodetool: @Sendable () async throws -> Value

    struct Unknown: Error, CustomStringConvertible {
        var what: String
        var detail: String
        var hint: String
        var description: String { "cannot learn the node's \(what): \(detail); \(hint)" }
    }

    func resolve(configured: String?, state: AgentState, logger: Logger, hint: String) async throws -> Value {
        if let configured {
            let value = try parse(configured)
            try await state.setMeta(metaKey, value.description)
            return value
        }
        let remembered = try await state.meta(metaKey)
        do {
            let value = try await fromNodetool()
            if let remembered, remembered != value.description {
                logger.warning(
                    "The node's \(what) changed since the last start",
                    metadata: [logKey: "\(value)", "\(logKey).previous": "\(remembered)"])
            }
            try await state.setMeta(metaKey, value.description)
            return value
        } catch {
            if let remembered {
                logger.warning(
                    "Nodetool failed; using the remembered \(what)",
                    metadata: ["error.message": "\(error)", logKey: "\(remembered)"])
                return try parse(remembered)
            }
            throw Unknown(what: what, detail: "\(error)", hint: hint)
        }
    }

    /// Without starting the agent or creating its state: configured, remembered by an earlier
    /// run in `stateDirectory`, or from a running Cassandra (`cassnap-agent restore`).
    func lookUp(configured: String?, stateDirectory: String) async throws -> Value {
        if let configured { return try parse(configured) }
        if FileManager.default.fileExists(atPath: stateDirectory + "/agent.sqlite"),
            let remembered = try? await AgentState(directory: stateDirectory).meta(metaKey)
        {
            return try parse(remembered)
        }
        return try await fromNodetool()
    }
}

enum NodeFacts {
    /// `nodetool info`'s `ID : <uuid>` line.
    static func hostID(nodetool: String) -> RememberedNodeFact<HostID> {
        RememberedNodeFact(
            what: "host ID", metaKey: "host_id", logKey: "node.host_id", parse: { try HostID($0) },
            fromNodetool: {
                let text = try await Nodetool(executable: nodetool).run(["info"])
                for line in text.split(whereSeparator: \.isNewline) {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "ID" else {
                        continue
                    }
                    return try HostID(parts[1].trimmingCharacters(in: .whitespaces))
                }
                throw NodetoolOutputError(detail: "\(nodetool) info printed no ID line")
            })
    }

    /// `nodetool describecluster`'s `Name:` line. The coordinator's default cluster is
    /// Cassandra's own default (`Test Cluster`), so both left at their defaults agree.
    static func clusterName(nodetool: String) -> RememberedNodeFact<ClusterName> {
        RememberedNodeFact(
            what: "cluster name", metaKey: "cluster", logKey: "cluster.name", parse: { try ClusterName($0) },
            fromNodetool: {
                let text = try await Nodetool(executable: nodetool).run(["describecluster"])
                guard let name = Nodetool.clusterName(describecluster: text) else {
                    throw NodetoolOutputError(detail: "\(nodetool) describecluster printed no Name line")
                }
                return try ClusterName(name)
            })
    }
}

struct NodetoolOutputError: Error, CustomStringConvertible {
    var detail: String
    var description: String { detail }
}
