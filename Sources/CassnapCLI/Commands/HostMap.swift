import ArgumentParser
import CassnapCore
import CassnapRepository
import Foundation

/// `--host-map OLD=NEW` values, or CSV files of `OLD,NEW` lines (`#` comments, blank lines).
enum HostMap {
    static func parse(_ values: [String], record: ClusterSnapshotRecord) throws -> [HostID: String] {
        var pairs: [(source: String, old: String, new: String)] = []
        for value in values {
            if let eq = value.firstIndex(of: "=") {
                pairs.append(
                    ("--host-map \(value)", String(value[..<eq]), String(value[value.index(after: eq)...])))
                continue
            }
            let text: String
            do { text = try String(contentsOfFile: value, encoding: .utf8) } catch {
                throw CLIError(
                    message:
                        "--host-map \(value.debugDescription) is neither OLD=NEW nor a readable CSV file",
                    exitCode: ExitStatus.usage)
            }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false)
                guard fields.count == 2 else {
                    throw CLIError(
                        message: "\(value):\(n + 1): expected OLD,NEW, found \(trimmed.debugDescription)",
                        exitCode: ExitStatus.usage)
                }
                pairs.append(
                    (
                        "\(value):\(n + 1)", fields[0].trimmingCharacters(in: .whitespaces),
                        fields[1].trimmingCharacters(in: .whitespaces)
                    ))
            }
        }
        var map: [HostID: String] = [:]
        var used: [String: String] = [:]
        for pair in pairs {
            guard !pair.old.isEmpty, !pair.new.isEmpty else {
                throw CLIError(
                    message: "\(pair.source): OLD and NEW must both be given", exitCode: ExitStatus.usage)
            }
            let host = try resolveNodes([pair.old], in: record).first!
            if let earlier = map[host], earlier != pair.new {
                throw CLIError(
                    message: "\(pair.source): \(pair.old) is already mapped to \(earlier)",
                    exitCode: ExitStatus.usage)
            }
            if let other = used[pair.new], other != host.description {
                throw CLIError(
                    message: "\(pair.source): \(pair.new) is already the new node of \(other)",
                    exitCode: ExitStatus.usage)
            }
            map[host] = pair.new
            used[pair.new] = host.description
        }
        return map
    }
}
