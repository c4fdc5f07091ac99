import CassnapCore
import Foundation

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

    /// Runs nodetool on a thread of its own (`BlockingThreads`): it may take minutes on a
    /// loaded node, and a cooperative thread must never wait that long.
    func run(_ arguments: [String]) async throws -> String {
        try await BlockingThreads.shared.run { try runBlocking(arguments) }
    }

    private func runBlocking(_ arguments: [String]) throws -> String {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain stderr concurrently so a chatty nodetool never blocks on a full pipe.
        let errorText = ErrorBox()
        let group = DispatchGroup()
        group.enter()
        BlockingThreads.shared.submit {
            errorText.data = errors.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(
                command: "\(executable) \(arguments.joined(separator: " "))",
                status: process.terminationStatus,
                output: String(decoding: errorText.data, as: UTF8.self) + text)
        }
        return text
    }

    private final class ErrorBox: @unchecked Sendable {
        var data = Data()
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
