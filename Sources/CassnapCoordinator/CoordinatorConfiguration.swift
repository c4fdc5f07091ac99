import CassnapCore
import Foundation
import Yams

/// Everything `buildApplication` needs, read from `coordinator.yaml`, flags and the
/// environment (flags win). Example: coordinator/coordinator.yaml.
package struct CoordinatorConfiguration: Sendable, Hashable {
    /// `host:port`; port 0 picks a free port (tests).
    package var listen: String = "127.0.0.1:8420"
    /// The SQLite catalog file.
    package var database: String = "cassnap-catalog.sqlite"
    /// Object store URL: `s3://bucket/prefix`, `gs://…`, `file:///path`.
    package var store: String = ""
    /// The key prefix inside the store, before `<cluster>/`.
    package var prefix: String = ""
    package var cluster: String = "Test Cluster"
    package var agentToken: String = ""
    package var adminToken: String = ""
    package var snapshots = Snapshots()
    package var logLevel: String = "info"

    package struct Snapshots: Sendable, Hashable, Codable {
        /// Seconds after the instant that nodes have to report their manifests, by default.
        package var deadlineSeconds: Double = 600
        /// A node whose last heartbeat is older than this is not expected in a new snapshot.
        package var liveNodeSeconds: Double = 90
        /// How often the scheduler looks for passed deadlines and unwritten records.
        package var schedulerIntervalSeconds: Double = 1
        /// Ask agents to clear `nodetool snapshot` directories after the upload.
        package var clearAfterUpload: Bool = true

        package init() {}

        enum CodingKeys: String, CodingKey {
            case deadlineSeconds = "deadline_seconds", liveNodeSeconds = "live_node_seconds"
            case schedulerIntervalSeconds = "scheduler_interval_seconds", clearAfterUpload =
                "clear_after_upload"
        }

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Snapshots()
            deadlineSeconds =
                try c.decodeIfPresent(Double.self, forKey: .deadlineSeconds) ?? d.deadlineSeconds
            liveNodeSeconds =
                try c.decodeIfPresent(Double.self, forKey: .liveNodeSeconds) ?? d.liveNodeSeconds
            schedulerIntervalSeconds =
                try c.decodeIfPresent(Double.self, forKey: .schedulerIntervalSeconds)
                ?? d.schedulerIntervalSeconds
            clearAfterUpload =
                try c.decodeIfPresent(Bool.self, forKey: .clearAfterUpload) ?? d.clearAfterUpload
        }
    }

    package init() {}

    /// The `host` and `port` of `listen`.
    package func listenAddress() throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ConfigurationError(
                field: "listen",
                message: "expected host:port, e.g. 127.0.0.1:8420, got \(listen.debugDescription)")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// The bucket layout of this coordinator's cluster.
    package func objectKeys() throws -> ObjectKeys {
        let name: ClusterName
        do { name = try ClusterName(cluster) } catch {
            throw ConfigurationError(field: "cluster", message: error.description)
        }
        do { return try ObjectKeys(prefix: prefix, cluster: name) } catch {
            throw ConfigurationError(field: "prefix", message: "\(error)")
        }
    }

    /// Refuses settings the coordinator cannot run with, naming the setting.
    package func validate() throws {
        _ = try listenAddress()
        _ = try objectKeys()
        if store.isEmpty {
            throw ConfigurationError(field: "store", message: "an object store URL is required")
        }
        if agentToken.isEmpty {
            throw ConfigurationError(
                field: "agent_token", message: "an agent token is required (or CASSNAP_AGENT_TOKEN)")
        }
        if adminToken.isEmpty {
            throw ConfigurationError(
                field: "admin_token", message: "an admin token is required (or CASSNAP_ADMIN_TOKEN)")
        }
        if agentToken == adminToken {
            throw ConfigurationError(field: "admin_token", message: "must differ from the agent token")
        }
        if !(snapshots.deadlineSeconds > 0) {
            throw ConfigurationError(field: "snapshots.deadline_seconds", message: "must be greater than 0")
        }
    }
}

package struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    package var field: String
    package var message: String
    package var description: String { "configuration \(field): \(message)" }
}

extension CoordinatorConfiguration: Codable {
    enum CodingKeys: String, CodingKey {
        case listen, database, store, prefix, cluster, snapshots
        case agentToken = "agent_token", adminToken = "admin_token", logLevel = "log_level"
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CoordinatorConfiguration()
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? d.listen
        database = try c.decodeIfPresent(String.self, forKey: .database) ?? d.database
        store = try c.decodeIfPresent(String.self, forKey: .store) ?? d.store
        prefix = try c.decodeIfPresent(String.self, forKey: .prefix) ?? d.prefix
        cluster = try c.decodeIfPresent(String.self, forKey: .cluster) ?? d.cluster
        agentToken = try c.decodeIfPresent(String.self, forKey: .agentToken) ?? d.agentToken
        adminToken = try c.decodeIfPresent(String.self, forKey: .adminToken) ?? d.adminToken
        snapshots = try c.decodeIfPresent(Snapshots.self, forKey: .snapshots) ?? d.snapshots
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? d.logLevel
    }

    /// Reads a YAML file; unknown keys are ignored, missing keys keep their defaults.
    package static func load(yamlFile path: String) throws -> CoordinatorConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError(
                field: "--config", message: "cannot read \(path): \(error.localizedDescription)")
        }
        return try load(yaml: text, source: path)
    }

    package static func load(yaml text: String, source: String = "configuration") throws
        -> CoordinatorConfiguration
    {
        do {
            return try YAMLDecoder().decode(CoordinatorConfiguration.self, from: text)
        } catch let error as DecodingError {
            throw ConfigurationError(field: source, message: describe(error))
        }
    }

    /// Token files and environment variables keep secrets out of `ps` and the YAML file.
    package mutating func applyEnvironment(_ environment: [String: String]) {
        if let t = environment["CASSNAP_AGENT_TOKEN"], !t.isEmpty { agentToken = t }
        if let t = environment["CASSNAP_ADMIN_TOKEN"], !t.isEmpty { adminToken = t }
    }
}

/// A decoding error as one line that names the field.
func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [any CodingKey], _ key: (any CodingKey)? = nil) -> String {
        let keys = codingPath + (key.map { [$0] } ?? [])
        let joined = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        let trimmed = joined.hasPrefix(".") ? String(joined.dropFirst()) : joined
        return trimmed.isEmpty ? "body" : trimmed
    }
    switch error {
    case .typeMismatch(let type, let context):
        return "field '\(path(context.codingPath))': expected \(typeName(type))"
    case .valueNotFound(let type, let context):
        return "field '\(path(context.codingPath))': expected \(typeName(type)), got null"
    case .keyNotFound(let key, let context):
        return "field '\(path(context.codingPath, key))' is required"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty {
            return "body is not valid JSON"
        }
        return "field '\(path(context.codingPath))': \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}

/// The field a decoding error is about, for `APIErrorBody`.
func fieldName(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, let context):
        return (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
        return context.codingPath.map(\.stringValue).joined(separator: ".")
    @unknown default:
        return ""
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Double.Type, is Float.Type: "a number"
    case is Int.Type, is Int64.Type: "an integer"
    case is Bool.Type: "true or false"
    case is [String].Type: "an array of strings"
    default:
        String(describing: type).hasPrefix("Array") ? "an array" : "\(type)"
    }
}
