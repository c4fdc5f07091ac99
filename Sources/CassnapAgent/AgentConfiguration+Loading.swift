import CassnapCore
import Foundation
import Yams

extension AgentConfiguration {
    /// Loads `path` with the real decoder: missing keys take defaults, unknown keys and bad
    /// values are errors naming the file and the key.
    package static func load(path: String) throws(AgentConfigurationError) -> AgentConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentConfigurationError(source: path, key: nil, problem: "cannot read the file")
        }
        return try decode(yaml: String(decoding: data, as: UTF8.self), source: path)
    }

    package static func decode(yaml: String, source: String) throws(AgentConfigurationError)
        -> AgentConfiguration
    {
        if yaml.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return AgentConfiguration() }
        do {
            return try YAMLDecoder().decode(AgentConfiguration.self, from: yaml)
        } catch let error as DecodingError {
            throw Self.describe(error, source: source)
        } catch let error as YamlError {
            throw AgentConfigurationError(source: source, key: nil, problem: "not valid YAML: \(error)")
        } catch {
            throw AgentConfigurationError(source: source, key: nil, problem: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError, source: String) -> AgentConfigurationError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let type, let context):
            return AgentConfigurationError(
                source: source, key: path(context.codingPath),
                problem: "expected \(Self.typeName(type)): \(context.debugDescription)")
        case .valueNotFound(let type, let context):
            return AgentConfigurationError(
                source: source, key: path(context.codingPath),
                problem: "expected \(Self.typeName(type)), found null")
        case .keyNotFound(let key, let context):
            return AgentConfigurationError(
                source: source, key: path(context.codingPath + [key]), problem: "is required")
        case .dataCorrupted(let context):
            return AgentConfigurationError(
                source: source, key: path(context.codingPath), problem: context.debugDescription)
        @unknown default:
            return AgentConfigurationError(source: source, key: nil, problem: "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        case is Double.Type: "a number"
        default: "\(type)"
        }
    }

    /// Checks what decoding cannot: required keys, ranges, names.
    package func validate(source: String?) throws(AgentConfigurationError) {
        func fail(_ key: String, _ problem: String) -> AgentConfigurationError {
            AgentConfigurationError(source: source, key: key, problem: problem)
        }
        if dataDirectories.isEmpty { throw fail("data_directories", "at least one data directory is needed") }
        for directory in dataDirectories where !directory.hasPrefix("/") {
            throw fail("data_directories", "\(directory.quotedForMessage) is not an absolute path")
        }
        guard let store, !store.isEmpty else {
            throw fail(
                "store",
                "no object store (e.g. s3://bucket/prefix or file:///var/backups/cassnap; on EC2 or GCE, "
                    + "BUCKET_NAME in the environment names the bucket)")
        }
        if !store.contains("://") {
            throw fail("store", "\(store.quotedForMessage) is not a URL such as s3://bucket/prefix")
        }
        if stateDirectory.isEmpty { throw fail("state_directory", "must not be empty") }
        if let ca = coordinator.caFile, !FileManager.default.isReadableFile(atPath: ca) {
            throw fail("coordinator.ca_file", "\(ca.quotedForMessage) is not a readable file")
        }
        if let metricsTextfile, !metricsTextfile.hasPrefix("/") || !metricsTextfile.hasSuffix(".prom") {
            throw fail(
                "metrics_textfile",
                "\(metricsTextfile.quotedForMessage) is not an absolute path ending in .prom")
        }
        if let cluster {
            do { _ = try ClusterName(cluster) } catch { throw fail("cluster", error.description) }
        }
        if let hostID {
            do { _ = try HostID(hostID) } catch { throw fail("host_id", error.description) }
        }
        if !(1...256).contains(upload.concurrency) { throw fail("upload.concurrency", "must be 1…256") }
        if reconcileInterval.seconds < 1 { throw fail("reconcile_interval", "must be at least 1 second") }
        if snapshotSettle.seconds != 0 && snapshotSettle.seconds < 1 {
            throw fail("snapshot_settle", "must be 0 (off) or at least 1 second")
        }
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) {
            throw fail(
                "log_level",
                "\(logLevel.quotedForMessage) is not one of trace, debug, info, notice, warning, error, critical"
            )
        }
        if !watch.snapshots && !watch.backups && !watch.live {
            throw fail("watch", "nothing to ship: enable snapshots, backups or live")
        }
    }
}

extension AgentConfiguration {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataDirectories = "data_directories", store, stateDirectory = "state_directory", cluster
        case hostID = "host_id", nodetool, coordinator, watch, snapshotTags = "snapshot_tags"
        case snapshotSettle = "snapshot_settle", tables, upload, reconcileInterval = "reconcile_interval"
        case logLevel = "log_level", metricsTextfile = "metrics_textfile"
    }

    package init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        if let v = try c.decodeIfPresent([String].self, forKey: .dataDirectories) { dataDirectories = v }
        store = try c.decodeIfPresent(String.self, forKey: .store)
        if let v = try c.decodeIfPresent(String.self, forKey: .stateDirectory) { stateDirectory = v }
        if let v = try c.decodeIfPresent(String.self, forKey: .cluster) { cluster = v }
        hostID = try c.decodeIfPresent(String.self, forKey: .hostID)
        if let v = try c.decodeIfPresent(String.self, forKey: .nodetool) { nodetool = v }
        if let v = try c.decodeIfPresent(Coordinator.self, forKey: .coordinator) { coordinator = v }
        if let v = try c.decodeIfPresent(Watch.self, forKey: .watch) { watch = v }
        if let v = try c.decodeIfPresent(SnapshotTagFilter.self, forKey: .snapshotTags) { snapshotTags = v }
        if let v = try c.decodeIfPresent(Interval.self, forKey: .snapshotSettle) { snapshotSettle = v }
        if let v = try c.decodeIfPresent(TableFilter.self, forKey: .tables) { tables = v }
        if let v = try c.decodeIfPresent(Upload.self, forKey: .upload) { upload = v }
        if let v = try c.decodeIfPresent(Interval.self, forKey: .reconcileInterval) { reconcileInterval = v }
        if let v = try c.decodeIfPresent(String.self, forKey: .logLevel) { logLevel = v }
        metricsTextfile = try c.decodeIfPresent(String.self, forKey: .metricsTextfile)
    }
}

extension AgentConfiguration.Coordinator {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case url, token, tokenFile = "token_file", caFile = "ca_file"
    }

    package init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        url = try c.decodeIfPresent(String.self, forKey: .url)
        token = try c.decodeIfPresent(String.self, forKey: .token)
        tokenFile = try c.decodeIfPresent(String.self, forKey: .tokenFile)
        caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
    }
}

extension AgentConfiguration.Watch {
    enum CodingKeys: String, CodingKey, CaseIterable { case snapshots, backups, live }

    package init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        if let v = try c.decodeIfPresent(Bool.self, forKey: .snapshots) { snapshots = v }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .backups) { backups = v }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .live) { live = v }
    }
}

extension AgentConfiguration.TableFilter {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case includeKeyspaces = "include_keyspaces", excludeKeyspaces = "exclude_keyspaces"
        case includeTables = "include_tables", excludeTables = "exclude_tables"
    }

    package init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        includeKeyspaces = try c.decodeIfPresent([GlobPattern].self, forKey: .includeKeyspaces) ?? []
        excludeKeyspaces = try c.decodeIfPresent([GlobPattern].self, forKey: .excludeKeyspaces) ?? []
        includeTables = try c.decodeIfPresent([GlobPattern].self, forKey: .includeTables) ?? []
        excludeTables = try c.decodeIfPresent([GlobPattern].self, forKey: .excludeTables) ?? []
    }
}

extension AgentConfiguration.Upload {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case concurrency, bandwidth, multipartThreshold = "multipart_threshold", partSize = "part_size"
        case deleteBackupsAfterUpload = "delete_backups_after_upload"
    }

    package init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        if let v = try c.decodeIfPresent(Int.self, forKey: .concurrency) { concurrency = v }
        bandwidth = try c.decodeIfPresent(ByteRate.self, forKey: .bandwidth)
        multipartThreshold = try c.decodeIfPresent(ByteSize.self, forKey: .multipartThreshold)
        partSize = try c.decodeIfPresent(ByteSize.self, forKey: .partSize)
        if let v = try c.decodeIfPresent(Bool.self, forKey: .deleteBackupsAfterUpload) {
            deleteBackupsAfterUpload = v
        }
    }
}
