import CassnapAPI
import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import Foundation
import Logging
import Synchronization

/// Uploads queued files: once per inode, never over different bytes, and records the result in
/// the same transaction that marks the path done.
package final class Shipper: Sendable {
    let configuration: AgentConfiguration
    let state: AgentState
    let store: any ObjectStore
    let keys: ObjectKeys
    let host: HostID
    let queue: UploadQueue
    let stats: ShipperStats
    let logger: Logger
    /// In `run --once`, give up on a file after this many failed attempts.
    let maxAttempts: Int?
    /// One encoder for every report: making one per file showed in the storm's profile.
    private let reportEncoder = APICoding.encoder()

    init(
        configuration: AgentConfiguration, state: AgentState, store: any ObjectStore, keys: ObjectKeys,
        host: HostID, queue: UploadQueue, stats: ShipperStats = ShipperStats(), logger: Logger,
        maxAttempts: Int?
    ) {
        self.configuration = configuration
        self.stats = stats
        self.state = state
        self.store = store
        self.keys = keys
        self.host = host
        self.queue = queue
        self.logger = logger
        self.maxAttempts = maxAttempts
    }

    var dataDirectories: [String] { configuration.dataDirectories }

    /// Runs `concurrency` workers, and the queue's delays, until the queue closes (or drains,
    /// in `--once`).
    func runWorkers() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.queue.runDelays() }
            for _ in 0..<configuration.upload.concurrency {
                group.addTask {
                    while let path = await self.queue.next() {
                        await self.process(path)
                    }
                }
            }
        }
    }

    private enum Outcome {
        case finished
        /// Done, and the claim on the inode and its key ends with it.
        case released(FileIdentity, key: String)
        case parked
    }

    func process(_ path: String) async {
        let outcome: Outcome
        do {
            outcome = try await ship(path)
        } catch {
            logStateFailure(path, error)
            outcome = .finished
        }
        switch outcome {
        case .finished: await queue.done(path)
        case .released(let identity, let key): await queue.done(path, releasing: identity, key: key)
        case .parked: break
        }
    }

    private func ship(_ path: String) async throws -> Outcome {
        let dataPath = try DataPath.classify(path: path, dataDirectories: dataDirectories, isDirectory: false)
        guard let identity = FileIdentity.of(path: path) else {
            try await markVanished(path)
            return .finished
        }
        if case .snapshotMetadata = dataPath.kind {
            // Cassandra writes these in place: wait until they have been still for a moment.
            let age = Date().timeIntervalSince1970 - Double(identity.mtimeNanoseconds) / 1e9
            if age < 1.5 {
                await queue.add(path, after: .milliseconds(Int64((1.6 - max(0, age)) * 1000)))
                return .finished
            }
        }
        let destination = try Destination(dataPath, host: host)
        let primaryKey = destination.primaryKey(keys)
        switch await queue.claim(identity, key: primaryKey, path: path) {
        case .parked: return .parked
        case .keyBusy:
            await queue.add(path, after: .milliseconds(200))
            return .finished
        case .claimed: break
        }
        do {
            try await shipClaimed(
                path, dataPath: dataPath, identity: identity, destination: destination, primaryKey: primaryKey
            )
        } catch {
            logStateFailure(path, error)
        }
        return .released(identity, key: primaryKey)
    }

    private func logStateFailure(_ path: String, _ error: any Error) {
        logger.error(
            "State database failure while shipping a file",
            metadata: ["file.path": "\(path)", "error.message": "\(error)"])
    }

    /// Ships `path` while this worker holds its inode and primary key: one read of what the
    /// state knows, then an alias, an upload or a retry later, and one write of the outcome.
    private func shipClaimed(
        _ path: String, dataPath: DataPath, identity: FileIdentity, destination: Destination,
        primaryKey: String
    ) async throws {
        let facts = try await state.shippingFacts(path: path, identity: identity, primaryKey: primaryKey)
        guard let record = facts.record, record.status == .pending else { return }
        if identity != record.identity {
            try await state.updateIdentity(path: path, to: identity)
        }
        if let object = facts.uploaded {
            try await markAlias(path, location: record.location, object: object)
            return
        }
        do {
            let result = try await upload(
                path: path, identity: identity, destination: destination, primaryKey: primaryKey,
                cached: facts.primaryKey)
            switch result {
            case .uploaded(let object, let alreadyThere):
                try await markUploaded(
                    path, location: record.location, identity: identity, object: object,
                    written: !alreadyThere,
                    dataPath: dataPath)
                if alreadyThere {
                    stats.foundInBucket.add(1, ordering: .relaxed)
                } else {
                    stats.uploadedFiles.add(1, ordering: .relaxed)
                    stats.uploadedBytes.add(Int(identity.size), ordering: .relaxed)
                    stats.lastUploadMilliseconds.store(
                        Int(Date().timeIntervalSince1970 * 1000), ordering: .relaxed)
                }
                logger.debug(
                    "Uploaded", metadata: ["object.key": "\(object.key)", "upload.bytes": "\(identity.size)"])
            case .changed:
                await queue.add(path, after: .milliseconds(500))
            }
        } catch {
            if FileIdentity.of(path: path) == nil {
                try await markVanished(path)
            } else {
                try await recordFailure(path, attempts: record.attempts + 1, error: error)
            }
        }
    }

    /// Where a file's bytes go: the key its name gives, and for a name that other bytes may
    /// reuse, a collision key named by their checksum.
    private enum Destination {
        /// `manifest.json`, `schema.cql`: rewritten in place, so overwritten when they differ.
        case snapshotMetadata(ObjectKey)
        /// No SSTable to share it with (1.2's `<table>.json`): stored with its snapshot.
        case opaque(SnapshotOpaqueFile)
        case pooled(PooledFile)

        init(_ dataPath: DataPath, host: HostID) throws {
            if case .snapshotMetadata(let file) = dataPath.kind, let table = dataPath.table,
                let tag = dataPath.snapshotTag
            {
                self = .snapshotMetadata(.tableSnapshotFile(host: host, tag: tag, table: table, file: file))
            } else if let opaque = dataPath.opaqueFile, !opaque.isPooled, let table = dataPath.table,
                let tag = dataPath.snapshotTag
            {
                self = .opaque(
                    try SnapshotOpaqueFile(
                        host: host, tag: tag, table: table, indexName: dataPath.indexName, file: opaque))
            } else {
                self = .pooled(try PooledFile(host: host, path: dataPath))
            }
        }

        func primaryKey(_ keys: ObjectKeys) -> String {
            switch self {
            case .snapshotMetadata(let location): keys.key(for: location)
            case .opaque(let file): keys.primaryKey(for: file)
            case .pooled(let file): keys.primaryKey(for: file)
            }
        }

        /// nil for a file whose one key is overwritten instead.
        func collisionKey(_ keys: ObjectKeys, sha256: SHA256Digest) -> String? {
            switch self {
            case .snapshotMetadata: nil
            case .opaque(let file): keys.collisionKey(for: file, sha256: sha256)
            case .pooled(let file): keys.collisionKey(for: file, sha256: sha256)
            }
        }
    }

    private enum UploadResult {
        case uploaded(AgentState.StoredObject, alreadyThere: Bool)
        /// The file changed while it was read: try again later.
        case changed
    }

    /// `cached` is the listing cache's entry for `primaryKey`, as read with the path's row.
    private func upload(
        path: String, identity: FileIdentity, destination: Destination, primaryKey: String,
        cached: AgentState.CachedBucketObject?
    ) async throws -> UploadResult {
        // A key nobody holds takes the bytes as they are: the store reads the file once to
        // checksum it and once to send it, and answers the SHA-256.
        guard cached != nil else {
            return try await put(path, identity: identity, key: primaryKey, sha256: nil)
        }
        let sha256 = try await BlockingThreads.shared.run { try Self.hashFile(path) }
        guard FileIdentity.of(path: path) == identity else { return .changed }
        let collisionKey = destination.collisionKey(keys, sha256: try SHA256Digest(hex: sha256))
        let candidates = [primaryKey] + (collisionKey.map { [$0] } ?? [])
        for (index, key) in candidates.enumerated() {
            let existing = try await index == 0 ? bucketSHA256(key, cached: cached) : bucketSHA256(key)
            if let existing, existing == sha256 {
                return .uploaded(AgentState.StoredObject(key: key, sha256: sha256), alreadyThere: true)
            }
            if existing == nil || collisionKey == nil {
                if index > 0 {
                    stats.collisions.add(1, ordering: .relaxed)
                    logger.warning(
                        "Name reused with other bytes: uploading under the collision key",
                        metadata: ["object.key": "\(key)", "file.path": "\(path)"])
                }
                return try await put(path, identity: identity, key: key, sha256: sha256)
            }
        }
        throw ObjectStoreError.permanent(
            store: store.displayName,
            detail: "both \(candidates.joined(separator: " and ")) hold other bytes than \(path)")
    }

    /// Sends `path` to `key`. The store checks the bytes it sends against the checksums it
    /// read them with (and against `sha256` when given). A file that changed meanwhile left
    /// under the key a state it had: the listing cache learns it, and the next try names
    /// the key's bytes as other bytes.
    private func put(_ path: String, identity: FileIdentity, key: String, sha256: String?) async throws
        -> UploadResult
    {
        let info = try await store.put(key: key, source: .file(path), options: PutOptions(sha256: sha256))
        guard let stored = info.sha256 ?? sha256 else {
            throw ObjectStoreError.permanent(
                store: store.displayName, detail: "no SHA-256 for \(key) after uploading \(path)")
        }
        let unchanged = FileIdentity.of(path: path) == identity
        if !unchanged || info.size != identity.size {
            try await state.rememberBucketObject(key: key, size: info.size, sha256: stored)
        }
        guard unchanged else { return .changed }
        guard info.size == identity.size else {
            throw ObjectStoreError.checksumMismatch(
                store: store.displayName, key: key, expected: "\(identity.size) bytes",
                actual: "\(info.size) bytes")
        }
        return .uploaded(AgentState.StoredObject(key: key, sha256: stored), alreadyThere: false)
    }

    /// The SHA-256 of what `key` holds, nil when absent, from the listing cache's entry for it.
    private func bucketSHA256(_ key: String) async throws -> String? {
        try await bucketSHA256(key, cached: state.cachedBucketObject(key))
    }

    /// The SHA-256 of what `key` holds, nil when absent: the listing cache answers, and a
    /// listed key whose checksum is not known yet is read once.
    private func bucketSHA256(_ key: String, cached: AgentState.CachedBucketObject?) async throws -> String? {
        guard let cached else { return nil }
        if let sha = cached.sha256 { return sha }
        guard let info = try await store.headIfExists(key: key) else {
            try await state.forgetBucketObject(key)
            return nil
        }
        // An object without our checksum metadata is "other bytes" unless proven otherwise.
        let sha = info.sha256 ?? "unknown"
        try await state.rememberBucketObject(key: key, size: info.size, sha256: sha)
        return sha
    }

    static func hashFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ObjectStoreError.localFile(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        return try Digest.hashFile(.sha256, fd: fd).hexString
    }

    // MARK: state transitions

    private func markVanished(_ path: String) async throws {
        guard try await state.markVanished(path: path) else { return }
        stats.vanished.add(1, ordering: .relaxed)
        logger.info("File vanished before upload", metadata: ["file.path": "\(path)"])
    }

    private func recordFailure(_ path: String, attempts: Int, error: any Error) async throws {
        let retryable = (error as? ObjectStoreError)?.isRetryable ?? true
        let givingUp = !retryable || (maxAttempts.map { attempts >= $0 } ?? false)
        try await state.recordFailedAttempt(
            path: path, attempts: attempts, error: "\(error)", givingUp: givingUp)
        if givingUp {
            stats.failed.add(1, ordering: .relaxed)
            logger.error("Upload failed", metadata: ["file.path": "\(path)", "error.message": "\(error)"])
        } else {
            let backoff = min(60.0, 0.5 * pow(2.0, Double(min(attempts, 8))))
            logger.warning(
                "Upload failed, will retry",
                metadata: [
                    "file.path": "\(path)", "error.message": "\(error)", "upload.attempts": "\(attempts)",
                ])
            await queue.add(path, after: .milliseconds(Int64(backoff * 1000)))
        }
    }

    private func markAlias(
        _ path: String, location: AgentState.FileLocation?, object: AgentState.StoredObject
    )
        async throws
    {
        try await state.markAlias(path: path, of: object)
        stats.aliases.add(1, ordering: .relaxed)
        deleteBackupsLinkIfWanted(path, location: location)
    }

    private func markUploaded(
        _ path: String, location: AgentState.FileLocation?, identity: FileIdentity,
        object: AgentState.StoredObject, written: Bool, dataPath: DataPath
    ) async throws {
        let now = Date()
        let report: Data? =
            if let table = dataPath.table, let file = dataPath.sstable {
                try reportEncoder.encode(
                    AgentAPI.FileReport(
                        keyspace: table.keyspace, table: table.table, tableID: table.id,
                        indexName: dataPath.indexName,
                        fileName: file.fileName, size: identity.size, sha256: object.sha256,
                        objectKey: object.key,
                        uploadedAt: now))
            } else { nil }
        try await state.markUploaded(
            path: path, identity: identity, object: object, written: written, report: report, at: now)
        deleteBackupsLinkIfWanted(path, location: location)
    }

    private func deleteBackupsLinkIfWanted(_ path: String, location: AgentState.FileLocation?) {
        guard location == .backups, configuration.upload.deleteBackupsAfterUpload else { return }
        if unlink(path) == 0 {
            logger.debug("Deleted an uploaded backups link", metadata: ["file.path": "\(path)"])
        }
    }
}

/// Counters for logs and the `--once` summary.
package final class ShipperStats: Sendable {
    let uploadedFiles = Atomic<Int>(0)
    let uploadedBytes = Atomic<Int>(0)
    let foundInBucket = Atomic<Int>(0)
    let aliases = Atomic<Int>(0)
    let vanished = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let collisions = Atomic<Int>(0)
    /// Milliseconds since 1970 of the last upload that completed, 0 before the first.
    let lastUploadMilliseconds = Atomic<Int>(0)
    /// Store requests retried (a transient error), counted by the store's retry observer.
    let retries = Atomic<Int>(0)
}
