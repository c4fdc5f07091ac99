import CassnapAPI
import CassnapCore
import Foundation

/// Checks every field an agent sends with the rules manifests follow (docs/FORMAT.md) before
/// anything is stored, answering the first problem as a 400 that names the field:
/// Cassandra names, SSTable names, pool keys of the reporting node only, instants near the
/// coordinator's clock, and free text without control characters (a NUL would be stored
/// truncated, a newline would forge log lines).
struct ReportValidation {
    let keys: ObjectKeys
    let now: Date

    func check(_ registration: AgentAPI.Registration) throws {
        try text(registration.hostname, "hostname", maximum: 253, required: true)
        try text(registration.datacenter, "datacenter", maximum: 200)
        try text(registration.rack, "rack", maximum: 200)
        try text(registration.cassandraVersion, "cassandraVersion", maximum: 64)
        try text(registration.agentVersion, "agentVersion", maximum: 64)
        try text(registration.cluster, "cluster", maximum: 200)
        guard registration.tokens.count <= 65_536 else {
            throw APIError.invalidField("tokens", "\(registration.tokens.count) tokens; at most 65536")
        }
        for (i, token) in registration.tokens.enumerated() {
            try text(token, "tokens[\(i)]", maximum: 128, required: true)
        }
        guard registration.dataDirectories.count <= 1024 else {
            throw APIError.invalidField("dataDirectories", "at most 1024 directories")
        }
        for (i, directory) in registration.dataDirectories.enumerated() {
            try text(directory, "dataDirectories[\(i)]", maximum: 4096, required: true)
        }
    }

    func check(_ beat: AgentAPI.Heartbeat) throws {
        try instant(beat.agentTime, "agentTime")
        try nonNegative(beat.queuedFiles, "queuedFiles")
        try nonNegative(beat.uploadedFiles, "uploadedFiles")
        try nonNegative(beat.uploadedBytes, "uploadedBytes")
        if let age = beat.oldestQueuedAge, !(age.isFinite && age >= 0 && age <= 100 * 366 * 86_400) {
            throw APIError.invalidField(
                "oldestQueuedAge", "\(age) is not a number of seconds from 0 to 100 years")
        }
        if let history = beat.liveHistory {
            try instant(history.since, "liveHistory.since")
            try instant(history.through, "liveHistory.through")
            guard history.since <= history.through, history.through <= beat.agentTime else {
                throw APIError.invalidField(
                    "liveHistory", "since must not be after through, nor through after agentTime")
            }
        }
    }

    func check(_ batch: AgentAPI.Batch<AgentAPI.FileReport>, host: HostID) throws {
        try envelope(batch)
        for (i, file) in batch.items.enumerated() {
            func at() -> String { "items[\(i)]" }
            try name(file.keyspace, "\(at()).keyspace", as: .keyspace)
            try name(file.table, "\(at()).table", as: .table)
            if let index = file.indexName { try name(index, "\(at()).indexName", as: .index) }
            // A component, or an opaque snapshot file of an SSTable (SAI, SASI), which is pooled too.
            let component = try? SSTableFileName.parse(file.fileName)
            guard file.fileName.utf8.count <= 255,
                component.map({ !$0.descriptor.isTemporary })
                    ?? ((try? OpaqueFileName(file.fileName))?.isPooled == true)
            else {
                throw APIError.invalidField(
                    "\(at()).fileName",
                    "\(file.fileName.quotedForMessage) is not a finished SSTable component file name")
            }
            guard (try? SHA256Digest(hex: file.sha256)) != nil else {
                throw APIError.invalidField(
                    "\(at()).sha256", "\(file.sha256.quotedForMessage) is not 64 lowercase hex digits")
            }
            try nonNegative(file.size, "\(at()).size")
            try instant(file.uploadedAt, "\(at()).uploadedAt")
            try text(file.objectKey, "\(at()).objectKey", maximum: RestorePath.maximumBytes, required: true)
            // The key must be this node's pool key for exactly this file: another node's or
            // cluster's key, or a path that escapes, is refused. Nearly every key is the
            // primary key built from the fields just checked; only the others (collision keys,
            // opaque files, no table id) are parsed, which costs several times more.
            if let component, let tableID = file.tableID,
                let table = try? TableRef(keyspace: file.keyspace, table: file.table, id: tableID),
                let expected = try? PooledFile(
                    host: host, table: table, indexName: file.indexName, file: component),
                keys.primaryKey(for: expected) == file.objectKey
            {
                continue
            }
            let pooled: PooledFile
            do {
                guard case .pooledFile(let parsed) = try keys.parse(file.objectKey) else {
                    throw APIError.invalidField(
                        "\(at()).objectKey",
                        "\(file.objectKey.quotedForMessage) is not a pool key (…/nodes/<host>/data/…)")
                }
                pooled = parsed
            } catch let error as ObjectKeyError {
                throw APIError.invalidField("\(at()).objectKey", error.description)
            }
            guard pooled.host == host else {
                throw APIError.invalidField(
                    "\(at()).objectKey",
                    "\(file.objectKey.quotedForMessage) is in node \(pooled.host)'s pool, not \(host)'s")
            }
            guard pooled.table.keyspace == file.keyspace, pooled.table.table == file.table,
                file.tableID == nil || pooled.table.id == file.tableID, pooled.indexName == file.indexName,
                pooled.fileName == file.fileName
            else {
                throw APIError.invalidField(
                    "\(at()).objectKey",
                    "\(file.objectKey.quotedForMessage) is not the pool key of \(file.keyspace).\(file.table) file \(file.fileName.quotedForMessage)"
                )
            }
        }
    }

    func check(_ batch: AgentAPI.Batch<AgentAPI.SSTableEvent>) throws {
        try envelope(batch)
        for (i, event) in batch.items.enumerated() {
            func at() -> String { "items[\(i)]" }
            try name(event.keyspace, "\(at()).keyspace", as: .keyspace)
            try name(event.table, "\(at()).table", as: .table)
            try instant(event.at, "\(at()).at")
            // An SSTable name is a file name without its component: `nb-42-big`.
            guard event.sstable.utf8.count <= 200,
                let parsed = try? SSTableFileName.parse(event.sstable + "-Data.db"),
                parsed.sstableName == event.sstable, !parsed.descriptor.isTemporary
            else {
                throw APIError.invalidField(
                    "\(at()).sstable",
                    "\(event.sstable.quotedForMessage) is not an SSTable name such as nb-42-big")
            }
        }
    }

    func check(_ batch: AgentAPI.Batch<AgentAPI.ManifestReport>) throws {
        try envelope(batch)
        for (i, item) in batch.items.enumerated() {
            func at() -> String { "items[\(i)]" }
            if let takenAt = item.takenAt { try instant(takenAt, "\(at()).takenAt") }
            try nonNegative(item.files, "\(at()).files")
            try nonNegative(item.bytes, "\(at()).bytes")
            if let key = item.manifestKey {
                try text(key, "\(at()).manifestKey", maximum: RestorePath.maximumBytes)
            }
            if let error = item.error { try text(error, "\(at()).error", maximum: 8192, allowNewlines: true) }
        }
    }

    func check(_ batch: AgentAPI.Batch<AgentAPI.NodeSnapshotReport>) throws {
        try envelope(batch)
        for (i, item) in batch.items.enumerated() {
            func at() -> String { "items[\(i)]" }
            try instant(item.takenAt, "\(at()).takenAt")
            try nonNegative(item.files, "\(at()).files")
            try nonNegative(item.bytes, "\(at()).bytes")
            try text(item.manifestKey, "\(at()).manifestKey", maximum: RestorePath.maximumBytes)
        }
    }

    // MARK: Rules

    private func envelope<Item>(_ batch: AgentAPI.Batch<Item>) throws {
        guard !batch.reportID.isEmpty, batch.reportID.utf8.count <= 200 else {
            throw APIError.invalidField("reportID", "must be 1 to 200 characters")
        }
        try text(batch.reportID, "reportID", maximum: 200)
        guard batch.items.count <= BodyLimit.batchItems else {
            throw APIError.invalidField(
                "items", "\(batch.items.count) items in one report; at most \(BodyLimit.batchItems)")
        }
    }

    private func instant(_ date: Date, _ field: @autoclosure () -> String) throws {
        if let problem = InputLimits.problem(reported: date, now: now) {
            throw APIError.invalidField(field(), problem)
        }
    }

    private func name(_ value: String, _ field: @autoclosure () -> String, as kind: ValidationError.Field)
        throws
    {
        do { try CassandraName.validate(value, as: kind) } catch {
            throw APIError.invalidField(field(), error.description)
        }
    }

    private func nonNegative<N: BinaryInteger>(_ value: N, _ field: @autoclosure () -> String) throws {
        if value < 0 { throw APIError.invalidField(field(), "must not be negative") }
    }

    /// At most `maximum` UTF-8 bytes and no control characters (NUL, newline, escape …).
    private func text(
        _ value: String, _ field: @autoclosure () -> String, maximum: Int, required: Bool = false,
        allowNewlines: Bool = false
    ) throws {
        if required && value.isEmpty { throw APIError.invalidField(field(), "must not be empty") }
        if value.utf8.count > maximum {
            throw APIError.invalidField(field(), "longer than \(maximum) bytes")
        }
        func isControl(_ scalar: Unicode.Scalar) -> Bool {
            if allowNewlines && (scalar == "\n" || scalar == "\t") { return false }
            // ASCII needs no Unicode table lookup (they cost on every report item).
            if scalar.value < 0x80 { return scalar.value < 0x20 || scalar.value == 0x7F }
            return scalar.properties.generalCategory == .control
        }
        let control =
            value.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F })
            ? value.unicodeScalars.first(where: isControl) : nil
        if let control {
            throw APIError.invalidField(
                field(),
                "contains the control character U+\(String(control.value, radix: 16, uppercase: true))"
            )
        }
    }
}
