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
    package var cluster: String = "Test Cluster"
    package var agentToken: String = ""
    package var adminToken: String = ""
    /// Files holding the tokens (first line), so no secret needs the YAML file or a flag.
    package var agentTokenFile: String = ""
    package var adminTokenFile: String = ""
    package var snapshots = Snapshots()
    package var schedules = Schedules()
    package var metrics = MetricsSettings()
    package var tls = TLSSettings()
    /// Listen beyond loopback over plain HTTP (tokens and reports unencrypted on the
    /// network): refused unless this is set, e.g. behind a TLS-terminating proxy on the host.
    package var allowPlainHTTP = false
    package var logLevel: String = "info"
    /// A connection that completes no request part for this long is closed (idle keep-alive,
    /// or a request head that trickles in); long-polls being answered are not idle.
    package var idleTimeoutSeconds: Double = 30

    package struct Snapshots: Sendable, Hashable, Codable {
        /// Seconds after the instant that nodes have to report their manifests, by default.
        package var deadlineSeconds: Double = 600
        /// A node whose last heartbeat is older than this is not expected in a new snapshot.
        package var liveNodeSeconds: Double = 90
        /// How often the scheduler looks for passed deadlines and unwritten records.
        package var schedulerIntervalSeconds: Double = 1
        /// Ask agents to clear `nodetool snapshot` directories after the upload.
        package var clearAfterUpload: Bool = true
        /// The largest node manifest read into memory for verification; a larger one fails the
        /// node with a message naming this key. 128 MiB holds about 500,000 files.
        package var maximumManifestBytes: Int64 = 128 << 20

        package init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case deadlineSeconds = "deadline_seconds", liveNodeSeconds = "live_node_seconds"
            case schedulerIntervalSeconds = "scheduler_interval_seconds", clearAfterUpload =
                "clear_after_upload"
            case maximumManifestBytes = "max_manifest_bytes"
        }

        package init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
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
            maximumManifestBytes =
                try c.decodeIfPresent(Int64.self, forKey: .maximumManifestBytes) ?? d.maximumManifestBytes
        }
    }

    /// How recurring snapshots run (`cassnap schedule`).
    package struct Schedules: Sendable, Hashable, Codable {
        /// A run missed while the coordinator was down is taken once at start if its time is at
        /// most this long ago; an older one is skipped (and logged), and the next is planned.
        package var catchUpSeconds: Double = 3600
        /// Each run is a cluster snapshot this many seconds ahead, so every agent has its
        /// command before the instant.
        package var leadSeconds: Double = 10
        /// Retention's pool sweep never deletes objects younger than this (uploads and
        /// snapshots may be in flight), as `cassnap prune --grace`.
        package var pruneGraceSeconds: Double = 6 * 3600

        package init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case catchUpSeconds = "catch_up_seconds", leadSeconds = "lead_seconds"
            case pruneGraceSeconds = "prune_grace_seconds"
        }

        package init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Schedules()
            catchUpSeconds = try c.decodeIfPresent(Double.self, forKey: .catchUpSeconds) ?? d.catchUpSeconds
            leadSeconds = try c.decodeIfPresent(Double.self, forKey: .leadSeconds) ?? d.leadSeconds
            pruneGraceSeconds =
                try c.decodeIfPresent(Double.self, forKey: .pruneGraceSeconds) ?? d.pruneGraceSeconds
        }
    }

    /// Where `/metrics` (Prometheus text format) is served, and whether it needs the admin token.
    package struct MetricsSettings: Sendable, Hashable, Codable {
        /// Empty: on `listen`, beside the API. Otherwise its own `host:port`, e.g. for a
        /// scraper on another network than the agents.
        package var listen: String = ""
        /// Ask for the admin token (Prometheus: `authorization: {credentials_file: …}`).
        package var requireToken = true

        package init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case listen, requireToken = "require_token"
        }

        package init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? ""
            requireToken = try c.decodeIfPresent(Bool.self, forKey: .requireToken) ?? true
        }
    }

    /// HTTPS served by the coordinator itself: PEM files, the certificate chain first.
    package struct TLSSettings: Sendable, Hashable, Codable {
        package var certFile: String = ""
        package var keyFile: String = ""

        package init() {}

        package var enabled: Bool { !certFile.isEmpty || !keyFile.isEmpty }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case certFile = "cert_file", keyFile = "key_file"
        }

        package init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            certFile = try c.decodeIfPresent(String.self, forKey: .certFile) ?? ""
            keyFile = try c.decodeIfPresent(String.self, forKey: .keyFile) ?? ""
        }
    }

    package init() {}

    /// The `host` and `port` of `listen`.
    package func listenAddress() throws -> (host: String, port: Int) {
        try Self.address(listen, field: "listen")
    }

    /// `host:port` of `text`, naming `field` when it is not one.
    static func address(_ listen: String, field: String) throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ConfigurationError(
                field: field,
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
        return ObjectKeys(cluster: name)
    }

    /// Refuses settings the coordinator cannot run with, naming the setting.
    package func validate() throws {
        _ = try listenAddress()
        if !metrics.listen.isEmpty { _ = try Self.address(metrics.listen, field: "metrics.listen") }
        if tls.enabled {
            for (field, path) in [("tls.cert_file", tls.certFile), ("tls.key_file", tls.keyFile)] {
                guard !path.isEmpty else {
                    throw ConfigurationError(
                        field: field, message: "give both tls.cert_file and tls.key_file")
                }
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw ConfigurationError(field: field, message: "\(path) is not a readable file")
                }
            }
        } else if !listensOnLoopbackOnly() && !allowPlainHTTP {
            throw ConfigurationError(
                field: "listen",
                message:
                    "\(listen) is reachable beyond this machine over plain HTTP (tokens and reports unencrypted): "
                    + "set tls.cert_file and tls.key_file, listen on 127.0.0.1 behind a TLS proxy, or set "
                    + "allow_plain_http: true")
        }
        _ = try objectKeys()
        if store.isEmpty {
            throw ConfigurationError(
                field: "store",
                message:
                    "an object store URL is required (on EC2 or GCE, BUCKET_NAME in the environment names the bucket)"
            )
        }
        if agentToken.isEmpty {
            throw ConfigurationError(
                field: "agent_token", message: "an agent token is required (or CASSNAP_AGENT_TOKEN)")
        }
        if adminToken.isEmpty {
            throw ConfigurationError(
                field: "admin_token", message: "an admin token is required (or CASSNAP_ADMIN_TOKEN)")
        }
        try Self.checkStrength(agentToken, field: "agent_token")
        try Self.checkStrength(adminToken, field: "admin_token")
        if agentToken == adminToken {
            throw ConfigurationError(field: "admin_token", message: "must differ from the agent token")
        }
        let durations: [(String, Double, TimeInterval)] = [
            ("snapshots.deadline_seconds", snapshots.deadlineSeconds, InputLimits.maximumDeadlineSeconds),
            ("snapshots.live_node_seconds", snapshots.liveNodeSeconds, 86_400),
            ("snapshots.scheduler_interval_seconds", snapshots.schedulerIntervalSeconds, 3600),
            ("idle_timeout_seconds", idleTimeoutSeconds, 3600),
            ("schedules.catch_up_seconds", schedules.catchUpSeconds, 366 * 86_400),
            ("schedules.lead_seconds", schedules.leadSeconds, 3600),
            ("schedules.prune_grace_seconds", schedules.pruneGraceSeconds, 366 * 86_400),
        ]
        if !(1024...(4 << 30)).contains(snapshots.maximumManifestBytes) {
            throw ConfigurationError(
                field: "snapshots.max_manifest_bytes", message: "must be between 1024 and 4294967296")
        }
        for (field, seconds, maximum) in durations {
            if let problem = InputLimits.problem(seconds: seconds, maximum: maximum) {
                throw ConfigurationError(field: field, message: problem)
            }
        }
    }

    /// The shortest token accepted: 16 characters (e.g. `openssl rand -hex 16` gives 32).
    package static let minimumTokenLength = 16

    /// Refuses short tokens and the placeholders of the example configuration.
    static func checkStrength(_ token: String, field: String) throws {
        if token.lowercased().hasPrefix("change-me") {
            throw ConfigurationError(
                field: field,
                message: "is the example's placeholder; generate a secret, e.g. `openssl rand -hex 24`")
        }
        if token.count < minimumTokenLength {
            throw ConfigurationError(
                field: field,
                message:
                    "is \(token.count) characters; use at least \(minimumTokenLength), e.g. `openssl rand -hex 24`"
            )
        }
        if token.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw ConfigurationError(field: field, message: "must not contain whitespace")
        }
    }

    /// Whether `listen` is reachable only from this machine.
    package func listensOnLoopbackOnly() -> Bool {
        guard let host = try? listenAddress().host else { return false }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Reads `agent_token_file` and `admin_token_file` into the tokens. Setting a token and
    /// its file together is refused: which one wins would be a guess.
    package mutating func readTokenFiles() throws {
        if !agentTokenFile.isEmpty {
            if !agentToken.isEmpty {
                throw ConfigurationError(
                    field: "agent_token_file", message: "set agent_token or agent_token_file, not both")
            }
            agentToken = try Self.readToken(agentTokenFile, field: "agent_token_file")
        }
        if !adminTokenFile.isEmpty {
            if !adminToken.isEmpty {
                throw ConfigurationError(
                    field: "admin_token_file", message: "set admin_token or admin_token_file, not both")
            }
            adminToken = try Self.readToken(adminTokenFile, field: "admin_token_file")
        }
    }

    private static func readToken(_ path: String, field: String) throws -> String {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError(
                field: field, message: "cannot read \(path): \(error.localizedDescription)")
        }
        let token =
            text.split(whereSeparator: \.isNewline).first.map {
                $0.trimmingCharacters(in: .whitespaces)
            } ?? ""
        if token.isEmpty { throw ConfigurationError(field: field, message: "\(path) is empty") }
        return token
    }
}

package struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    package var field: String
    package var message: String
    package var description: String { "configuration \(field): \(message)" }
}

extension CoordinatorConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, database, store, cluster, snapshots, schedules, metrics, tls
        case allowPlainHTTP = "allow_plain_http"
        case agentToken = "agent_token", adminToken = "admin_token", logLevel = "log_level"
        case agentTokenFile = "agent_token_file", adminTokenFile = "admin_token_file"
        case idleTimeoutSeconds = "idle_timeout_seconds"
    }

    package init(from decoder: any Decoder) throws {
        let prefix = AnyCodingKey(stringValue: "prefix")
        if try decoder.container(keyedBy: AnyCodingKey.self).contains(prefix) {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath + [prefix],
                    debugDescription:
                        "no longer a setting: put the key prefix in the store URL's path (s3://bucket/PREFIX), as the agents do"
                ))
        }
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CoordinatorConfiguration()
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? d.listen
        database = try c.decodeIfPresent(String.self, forKey: .database) ?? d.database
        store = try c.decodeIfPresent(String.self, forKey: .store) ?? d.store
        cluster = try c.decodeIfPresent(String.self, forKey: .cluster) ?? d.cluster
        agentToken = try c.decodeIfPresent(String.self, forKey: .agentToken) ?? d.agentToken
        adminToken = try c.decodeIfPresent(String.self, forKey: .adminToken) ?? d.adminToken
        agentTokenFile = try c.decodeIfPresent(String.self, forKey: .agentTokenFile) ?? d.agentTokenFile
        adminTokenFile = try c.decodeIfPresent(String.self, forKey: .adminTokenFile) ?? d.adminTokenFile
        snapshots = try c.decodeIfPresent(Snapshots.self, forKey: .snapshots) ?? d.snapshots
        schedules = try c.decodeIfPresent(Schedules.self, forKey: .schedules) ?? d.schedules
        metrics = try c.decodeIfPresent(MetricsSettings.self, forKey: .metrics) ?? d.metrics
        tls = try c.decodeIfPresent(TLSSettings.self, forKey: .tls) ?? d.tls
        allowPlainHTTP = try c.decodeIfPresent(Bool.self, forKey: .allowPlainHTTP) ?? d.allowPlainHTTP
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? d.logLevel
        idleTimeoutSeconds =
            try c.decodeIfPresent(Double.self, forKey: .idleTimeoutSeconds) ?? d.idleTimeoutSeconds
    }

    /// Reads a YAML file; missing keys keep their defaults, unknown keys are errors naming the
    /// file, the key and the known key it most likely meant.
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
