import CassnapCore
import Foundation

/// Everything the agent needs to run, from `agent.yaml` and the command line. Every key is
/// optional in the file; absent keys take the defaults below. Unknown keys are errors, so a
/// typo is reported instead of silently ignored.
package struct AgentConfiguration: Codable, Sendable, Equatable {
    /// Cassandra data directories (`data_file_directories`); more than one for JBOD.
    package var dataDirectories: [String] = ["/var/lib/cassandra/data"]
    /// `s3://bucket/prefix`, `gs://bucket/prefix` or `file:///path`.
    package var store: String?
    /// Where the agent keeps its SQLite state (`agent.sqlite`).
    package var stateDirectory: String = "/var/lib/cassnap-agent"
    /// The cluster name used in object keys; when absent it is Cassandra's `cluster_name`
    /// from `nodetool describecluster` (and is remembered), as the coordinator's default
    /// (`Test Cluster`, Cassandra's own default) expects.
    package var cluster: String?
    /// The node's host ID; when absent it comes from `nodetool info` (and is remembered).
    package var hostID: String?
    package var nodetool: String = "nodetool"
    /// node_exporter's textfile collector: where to write the agent's metrics (a `.prom` file
    /// in its `--collector.textfile.directory`); absent: no metrics file.
    package var metricsTextfile: String?
    package var coordinator = Coordinator()
    package var watch = Watch()
    package var snapshotTags = SnapshotTagFilter()
    /// A snapshot taken outside cassnap (`nodetool snapshot -t X`) gets a node manifest once
    /// every file of it is uploaded and none has appeared for this long; 0 turns that off.
    package var snapshotSettle = Interval(seconds: 60)
    package var tables = TableFilter()
    package var upload = Upload()
    /// How often disk, local state and the bucket are compared (inotify is only the fast path).
    package var reconcileInterval = Interval(seconds: 300)
    /// trace, debug, info, notice, warning, error, critical.
    package var logLevel: String = "info"

    package init() {}

    package struct Coordinator: Codable, Sendable, Equatable {
        package var url: String?
        package var token: String?
        /// A file holding the token (kept out of the config file and the process list).
        package var tokenFile: String?
        /// PEM CA bundle that signed an https:// coordinator's certificate (a private CA).
        package var caFile: String?
        package init() {}
    }

    /// Which trees ship.
    package struct Watch: Codable, Sendable, Equatable {
        package var snapshots = true
        package var backups = true
        /// Live SSTables (tablesnap mode): each ships once complete.
        package var live = false
        package init() {}

        /// From `snapshots,backups,live`.
        package init(list: String) throws(AgentConfigurationError) {
            snapshots = false
            backups = false
            live = false
            for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
            where !item.isEmpty {
                switch item {
                case "snapshots": snapshots = true
                case "backups": backups = true
                case "live": live = true
                default:
                    throw AgentConfigurationError(
                        source: "--watch", key: "watch",
                        problem: "unknown tree \(item.quotedForMessage) (expected snapshots, backups, live)")
                }
            }
        }
    }

    /// Keyspace and table filters; patterns are globs. A table is `keyspace.table`.
    package struct TableFilter: Codable, Sendable, Equatable {
        package var includeKeyspaces: [GlobPattern] = []
        package var excludeKeyspaces: [GlobPattern] = []
        package var includeTables: [GlobPattern] = []
        package var excludeTables: [GlobPattern] = []
        package init() {}

        package func allows(keyspace: String) -> Bool {
            if excludeKeyspaces.contains(where: { $0.matches(keyspace) }) { return false }
            return includeKeyspaces.isEmpty || includeKeyspaces.contains { $0.matches(keyspace) }
        }

        package func allows(keyspace: String, table: String) -> Bool {
            guard allows(keyspace: keyspace) else { return false }
            let name = keyspace + "." + table
            if excludeTables.contains(where: { $0.matches(name) }) { return false }
            return includeTables.isEmpty || includeTables.contains { $0.matches(name) }
        }
    }

    package struct Upload: Codable, Sendable, Equatable {
        /// Files uploaded at once.
        package var concurrency = 4
        /// One rate for all uploads (e.g. `50MiB/s`); absent means unlimited.
        package var bandwidth: ByteRate?
        /// Objects at least this large use multipart (S3) or resumable (GCS) uploads.
        package var multipartThreshold: ByteSize?
        package var partSize: ByteSize?
        /// Delete a `backups/` hard link once its upload is confirmed (Cassandra never does).
        package var deleteBackupsAfterUpload = false
        package init() {}
    }
}

/// A byte count in a config file: `1048576`, `512KiB`, `8MB`, `1GiB`.
package struct ByteSize: Codable, Sendable, Equatable {
    package var bytes: Int64
    package init(bytes: Int64) { self.bytes = bytes }

    package init(parsing text: String) throws(AgentConfigurationError) {
        guard let value = Self.parse(text) else {
            throw AgentConfigurationError(
                source: nil, key: nil,
                problem: "\(text.quotedForMessage) is not a size such as 8MiB or 1048576")
        }
        bytes = value
    }

    static func parse(_ text: String) -> Int64? {
        var body = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000),
            ("GB", 1_000_000_000), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1),
        ]
        var multiplier: Int64 = 1
        for (suffix, factor) in units where body.hasSuffix(suffix) {
            body = String(body.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            multiplier = factor
            break
        }
        guard let number = Double(body), number > 0, number.isFinite else { return nil }
        // Anything larger is a typo, and would trap converting to Int64.
        let bytes = number * Double(multiplier)
        guard bytes >= 1, bytes <= Double(maximum) else { return nil }
        return Int64(bytes)
    }

    /// The largest size or rate accepted: 1 PiB.
    static let maximum: Int64 = 1 << 50

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            guard number > 0, number <= Self.maximum else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\(number) is not a size between 1 byte and 1 PiB")
            }
            bytes = number
            return
        }
        let text = try container.decode(String.self)
        guard let value = Self.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "\(text.quotedForMessage) is not a size such as 8MiB or 1048576")
        }
        bytes = value
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}

/// A transfer rate: `50MiB/s`, `10MB/s`, or bytes per second as a number.
package struct ByteRate: Codable, Sendable, Equatable {
    package var bytesPerSecond: Int64
    package init(bytesPerSecond: Int64) { self.bytesPerSecond = bytesPerSecond }

    package init(parsing text: String) throws(AgentConfigurationError) {
        var body = text
        if body.hasSuffix("/s") { body.removeLast(2) }
        guard let value = ByteSize.parse(body) else {
            throw AgentConfigurationError(
                source: nil, key: nil, problem: "\(text.quotedForMessage) is not a rate such as 50MiB/s")
        }
        bytesPerSecond = value
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self), number > 0, number <= ByteSize.maximum {
            bytesPerSecond = number
            return
        }
        let text = try container.decode(String.self)
        var body = text
        if body.hasSuffix("/s") { body.removeLast(2) }
        guard let value = ByteSize.parse(body) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\(text.quotedForMessage) is not a rate such as 50MiB/s")
        }
        bytesPerSecond = value
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytesPerSecond)
    }
}

/// A duration: `300`, `90s`, `5m`, `1h`.
package struct Interval: Codable, Sendable, Equatable {
    package var seconds: Double
    package init(seconds: Double) { self.seconds = seconds }

    package init(parsing text: String) throws(AgentConfigurationError) {
        guard let value = Self.parse(text) else {
            throw AgentConfigurationError(
                source: nil, key: nil,
                problem: "\(text.quotedForMessage) is not a duration such as 300, 90s or 5m")
        }
        seconds = value
    }

    /// The longest duration accepted: 366 days. Anything longer is a typo, and would trap
    /// converting to milliseconds.
    static let maximumSeconds: Double = 366 * 86_400

    static func parse(_ text: String) -> Double? {
        let body = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where body.hasSuffix(suffix) {
            if let n = Double(body.dropLast(suffix.count)), n > 0, n * factor <= maximumSeconds {
                return n * factor
            }
            return nil
        }
        if let n = Double(body), n > 0, n <= maximumSeconds { return n }
        return nil
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            guard number > 0, number <= Self.maximumSeconds else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\(number) is not a duration between 0 and 366 days")
            }
            seconds = number
            return
        }
        let text = try container.decode(String.self)
        guard let value = Self.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "\(text.quotedForMessage) is not a duration such as 300, 90s or 5m")
        }
        seconds = value
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(seconds)
    }

    package var duration: Duration { .milliseconds(Int64(seconds * 1000)) }
}

/// A configuration problem: which file (or flag), which key, and what is wrong with it.
package struct AgentConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file path or the flag the value came from.
    package var source: String?
    /// Dotted key, e.g. `upload.concurrency`.
    package var key: String?
    package var problem: String

    package init(source: String?, key: String?, problem: String) {
        self.source = source
        self.key = key
        self.problem = problem
    }

    package var description: String {
        var text = ""
        if let source { text += source + ": " }
        if let key, !key.isEmpty { text += key + ": " }
        return text + problem
    }
}
