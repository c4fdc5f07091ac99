import CassnapCore
import Foundation
import Logging

/// The node's host ID: from the configuration, else `nodetool info`, else the one remembered
/// from an earlier start (Cassandra may be down while the agent starts).
enum HostIdentity {
    struct Unknown: Error, CustomStringConvertible {
        var detail: String
        var description: String {
            "cannot learn the node's host ID: \(detail); set hostID in the configuration or --host-id"
        }
    }

    static func resolve(configuration: AgentConfiguration, state: AgentState, logger: Logger) async throws
        -> HostID
    {
        if let configured = configuration.hostID {
            let host = try HostID(configured)
            try state.setMeta("host_id", host.description)
            return host
        }
        let remembered = try state.meta("host_id")
        do {
            let host = try await fromNodetool(configuration.nodetool)
            if let remembered, remembered != host.description {
                logger.warning(
                    "The node's host ID changed since the last start",
                    metadata: ["node.host_id": "\(host)", "node.previous_host_id": "\(remembered)"])
            }
            try state.setMeta("host_id", host.description)
            return host
        } catch {
            if let remembered {
                logger.warning(
                    "nodetool info failed; using the remembered host ID",
                    metadata: ["error": "\(error)", "node.host_id": "\(remembered)"])
                return try HostID(remembered)
            }
            throw Unknown(detail: "\(error)")
        }
    }

    /// Runs `nodetool info` and reads its `ID : <uuid>` line.
    static func fromNodetool(_ nodetool: String) async throws -> HostID {
        let text = try await Nodetool(executable: nodetool).run(["info"])
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "ID" else { continue }
            return try HostID(parts[1].trimmingCharacters(in: .whitespaces))
        }
        throw Unknown(detail: "\(nodetool) info printed no ID line")
    }
}
