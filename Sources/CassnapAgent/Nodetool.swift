import CassnapCore
import Foundation
import Subprocess

/// Runs the node's `nodetool` (or the fake one in tests and the demo) and returns what it
/// printed. A non-zero exit is an error carrying nodetool's own message.
struct Nodetool: Sendable {
    let executable: String

    struct Failure: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var output: String
        var description: String {
            let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(command) exited with status \(status)" + (text.isEmpty ? "" : ": \(text.prefix(500))")
        }
    }

    /// The most either stream may print; `listsnapshots` of a node with thousands of tables
    /// stays far below it.
    static let outputLimit = 64 << 20

    /// Runs nodetool without holding a thread while it works (swift-subprocess awaits the
    /// child's exit): it may take minutes on a loaded node. Cancelling the task terminates it.
    /// A bare name is looked up in `PATH`.
    func run(_ arguments: [String]) async throws -> String {
        let program: Executable = executable.contains("/") ? .path(.init(executable)) : .name(executable)
        let result = try await Subprocess.run(
            program, arguments: Arguments(arguments), input: .none,
            output: .string(limit: Self.outputLimit), error: .string(limit: Self.outputLimit))
        let text = result.standardOutput
        guard case .exited(0) = result.terminationStatus else {
            let status: Int32 =
                switch result.terminationStatus {
                case .exited(let code): code
                case .signaled(let signal): 128 + signal
                }
            throw Failure(
                command: "\(executable) \(arguments.joined(separator: " "))", status: status,
                output: result.standardError + text)
        }
        return text
    }

    /// What `nodetool info -T` and `nodetool version` say about the node.
    struct NodeInfo: Sendable {
        var datacenter = "unknown"
        var rack = "unknown"
        var tokens: [String] = []
        var releaseVersion = "unknown"
        /// Cassandra's `cluster_name`, from `nodetool describecluster`.
        var clusterName: String?
    }

    func nodeInfo() async -> NodeInfo {
        var info = NodeInfo()
        if let text = try? await run(["info", "-T"]) {
            for line in text.split(whereSeparator: \.isNewline) {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let name = parts[0].trimmingCharacters(in: .whitespaces)
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                switch name {
                case "Data Center": info.datacenter = value
                case "Rack": info.rack = value
                case "Token": info.tokens.append(value)
                default: break
                }
            }
        }
        if let text = try? await run(["version"]),
            let line = text.split(whereSeparator: \.isNewline).first(where: {
                $0.hasPrefix("ReleaseVersion:")
            })
        {
            info.releaseVersion = line.dropFirst("ReleaseVersion:".count).trimmingCharacters(in: .whitespaces)
        }
        if let text = try? await run(["describecluster"]) {
            info.clusterName = Self.clusterName(describecluster: text)
        }
        return info
    }

    /// The `Name:` line under `Cluster Information:` (the same in 1.2 and 5.0).
    static func clusterName(describecluster text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("Name:") else { continue }
            let name = trimmed.dropFirst("Name:".count).trimmingCharacters(in: .whitespaces)
            return name.isEmpty ? nil : name
        }
        return nil
    }
}
