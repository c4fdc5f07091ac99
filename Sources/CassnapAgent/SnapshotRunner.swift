import CassnapAPI
import CassnapCore
import CassnapObjectStore
import CassnapRepository
import CassnapWatcher
import Foundation
import Logging

/// Carries out one cluster-snapshot command on this node: `nodetool snapshot -t <tag>` at the
/// chosen instant by this node's clock, then lists the snapshot directories itself (inotify is
/// the fast path, never the only one), waits until the pool holds every file, writes the node
/// manifest **last**, and queues the manifest report in the outbox.
struct SnapshotRunner: Sendable {
    let node: NodeContext
    let nodetool: Nodetool
    let info: Nodetool.NodeInfo
    let logger: Logger

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs the command and returns the report to deliver (success or the reason it failed).
    /// Where a command stands in the agent's state (`command:<id>`), so that an agent killed
    /// mid-snapshot and restarted resumes it instead of ignoring it: `started` before
    /// `nodetool snapshot` returned, `taken:<ms since 1970>` after, `done` once reported.
    enum Progress: Equatable {
        case new, started, taken(Date), done

        init(_ text: String?) {
            switch text {
            case nil: self = .new
            case "done": self = .done
            case let t? where t.hasPrefix("taken:"):
                self =
                    Double(t.dropFirst(6)).map { .taken(Date(timeIntervalSince1970: $0 / 1000)) } ?? .started
            default: self = .started
            }
        }

        var text: String {
            switch self {
            case .new: ""
            case .started: "started"
            case .taken(let at): "taken:\(Int64(at.timeIntervalSince1970 * 1000))"
            case .done: "done"
            }
        }
    }

    static func progressKey(_ commandID: String) -> String { "command:" + commandID }

    /// Runs the command from where `progress` says it stands: from the start (waiting for the
    /// instant); after a restart that came before `nodetool snapshot` finished, only if the
    /// instant has not passed (a snapshot taken late is not the one asked for: the node fails,
    /// saying so); after the snapshot was taken, from its listing.
    func execute(_ command: AgentAPI.SnapshotCommand, commandID: String? = nil, progress: Progress = .new)
        async -> AgentAPI.ManifestReport
    {
        var logger = logger
        logger[metadataKey: "snapshot.tag"] = "\(command.tag)"
        var taken = false
        // This tag's manifest is the runner's to write, not the settled-snapshot watcher's.
        try? await node.state.setMeta(
            SettledSnapshots.stateKey(command.tag.description), SettledSnapshots.commanded)
        func record(_ p: Progress) async {
            if let commandID { try? await node.state.setMeta(Self.progressKey(commandID), p.text) }
        }
        do {
            let takenAt: Date
            if case .taken(let at) = progress {
                takenAt = at
                taken = true
                logger.notice("Resuming a snapshot taken before the agent restarted")
            } else {
                if progress == .started, command.at.timeIntervalSinceNow <= 0 {
                    throw Failure(
                        description:
                            "the agent restarted after the snapshot's instant \(InstantFormat.format(command.at)) "
                            + "without having taken it; a snapshot taken now would not be the one asked for")
                }
                await record(.started)
                let delay = command.at.timeIntervalSinceNow
                if delay > 0 { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
                takenAt = Date()
                _ = try await nodetool.run(snapshotArguments(command))
                taken = true
                await record(.taken(takenAt))
                logger.info(
                    "Snapshot taken", metadata: ["snapshot.taken_at": "\(InstantFormat.format(takenAt))"])
            }

            let listing = snapshotFiles(tag: command.tag.description, tables: command.tables)
            try await node.ingest(listing.files.map { .fileAppeared($0) } + listing.skipped)
            if !listing.unshippable.isEmpty {
                let examples = listing.unshippable.prefix(3).map { "\($0.path): \($0.reason)" }
                throw Failure(
                    description:
                        "\(listing.unshippable.count) snapshot files cannot be shipped, e.g. \(examples)")
            }
            let manifest = try await checkedManifest(
                command: command, takenAt: takenAt, files: listing.files, logger: logger)
            _ = try await node.store.put(
                key: node.keys.key(for: .nodeManifest(host: node.host, tag: command.tag)),
                source: .bytes(Array(manifest.encoded())),
                options: PutOptions(contentType: "application/json"))
            if command.clearAfterUpload { await clear(command.tag, after: "upload") }
            let files = manifest.allFiles
            logger.info("Node manifest written", metadata: ["snapshot.files": "\(files.count)"])
            return AgentAPI.ManifestReport(
                snapshotID: command.snapshotID, tag: command.tag,
                manifestKey: node.keys.key(for: .nodeManifest(host: node.host, tag: command.tag)),
                takenAt: takenAt,
                files: files.count, bytes: files.reduce(0) { $0 + $1.size }, error: nil)
        } catch {
            logger.error("Snapshot failed on this node", metadata: ["error.message": "\(error)"])
            // Only a tag this run created: "Snapshot … already exists" names someone else's.
            if taken && command.clearAfterUpload { await clear(command.tag, after: "failure") }
            return AgentAPI.ManifestReport(
                snapshotID: command.snapshotID, tag: command.tag, manifestKey: nil, takenAt: nil, files: 0,
                bytes: 0,
                error: "\(error)")
        }
    }

    /// `nodetool clearsnapshot -t <tag>`: after a failure too, or the hard links would keep
    /// every SSTable of the snapshot on disk until an operator noticed.
    private func clear(_ tag: SnapshotTag, after reason: String) async {
        do {
            _ = try await nodetool.run(["clearsnapshot", "-t", tag.description])
            logger.info("Snapshot cleared", metadata: ["snapshot.cleared_after": "\(reason)"])
        } catch {
            logger.warning(
                "Could not clear the snapshot",
                metadata: ["snapshot.cleared_after": "\(reason)", "error.message": "\(error)"])
        }
    }

    /// The nodetool arguments for the command, in the form the node's release accepts. 1.2's
    /// `NodeCmd` (commons-cli) knows only `-cf`/`--column-family` beside one keyspace and refuses
    /// `-kt` ("Unrecognized option: -kt"); `-kt`/`--kt-list` is in the 3.x+ airline
    /// `tools/nodetool/Snapshot.java`, which still takes `-cf`/`--table` too. Before 3.0 the
    /// agent uses the `-cf` form every release accepts; several tables are snapshotted by
    /// keyspace and `snapshotFiles` keeps only the named ones.
    func snapshotArguments(_ command: AgentAPI.SnapshotCommand) -> [String] {
        var arguments = ["snapshot", "-t", command.tag.description]
        guard !command.tables.isEmpty else { return arguments + command.keyspaces }
        guard let major = Self.majorVersion(info.releaseVersion), major < 3 else {
            return arguments + ["-kt", command.tables.joined(separator: ",")]
        }
        let names = command.tables.map { $0.split(separator: ".", maxSplits: 1).map(String.init) }
        if names.count == 1, names[0].count == 2 {
            return arguments + ["-cf", names[0][1], names[0][0]]
        }
        var keyspaces: [String] = []
        for name in names where !keyspaces.contains(name[0]) { keyspaces.append(name[0]) }
        arguments += keyspaces
        return arguments
    }

    /// `1` of `1.2.19`; nil when `nodetool version` said nothing usable.
    static func majorVersion(_ release: String) -> Int? {
        release.split(separator: ".").first.flatMap { Int($0) }
    }

    struct Listing {
        /// Files to ship and wait for: SSTable components, Cassandra's per-table files and
        /// opaque files.
        var files: [String] = []
        /// Entries the watcher could not look at (for the ingestor to log).
        var skipped: [WatchEvent] = []
        /// Regular files that no manifest could list (an unexpected directory, a name a restore
        /// would refuse): the snapshot would not restore as it is on disk, so the node fails.
        var unshippable: [(path: String, reason: String)] = []
    }

    /// Every file under `<table>/snapshots/<tag>/` in every data directory, index directories
    /// included; with `tables` (`ks.t`) not empty, only those tables'. Temporary files and
    /// transaction logs are never shipped, so nothing waits for them.
    func snapshotFiles(tag: String, tables: [String] = []) -> Listing {
        var listing = Listing()
        let wanted = Set(tables)
        let fm = FileManager.default
        let dataDirectories = node.dataDirectories
        for data in dataDirectories {
            for keyspace in (try? fm.contentsOfDirectory(atPath: data)) ?? [] {
                let keyspaceDir = data + "/" + keyspace
                for table in (try? fm.contentsOfDirectory(atPath: keyspaceDir)) ?? [] {
                    var stack = [keyspaceDir + "/" + table + "/snapshots/" + tag]
                    while let directory = stack.popLast() {
                        for entry in DirectoryListing.entries(of: directory) ?? [] {
                            if entry.hasInvalidName {
                                listing.skipped.append(.entrySkipped(entry.path, .nameNotUTF8))
                                continue
                            }
                            switch entry.kind {
                            case .directory: stack.append(entry.path)
                            case .regularFile:
                                let path = try? DataPath.classify(
                                    path: entry.path, dataDirectories: dataDirectories, isDirectory: false)
                                if !wanted.isEmpty, let ref = path?.table,
                                    !wanted.contains("\(ref.keyspace).\(ref.table)")
                                {
                                    continue
                                }
                                switch path?.kind {
                                case .ignored(.temporary), .ignored(.transactionLog): continue
                                case .ignored(.unrecognized(let reason)):
                                    listing.unshippable.append((entry.path, reason))
                                default: listing.files.append(entry.path)
                                }
                            case .other(let kind):
                                listing.skipped.append(.entrySkipped(entry.path, .notARegularFile(kind)))
                            }
                        }
                    }
                }
            }
        }
        listing.files.sort()
        return listing
    }

    /// Waits until the state records every path as uploaded; fails at the deadline naming what
    /// is missing, or at once for a file that vanished (a snapshot cleared underneath us).
    func waitUntilStored(_ paths: [String], deadline: Date) async throws -> [AgentState.FileRecord] {
        var waiting = Set(paths)
        var done: [String: AgentState.FileRecord] = [:]
        while true {
            for (path, record) in try await node.state.files(paths: waiting) {
                switch record.status {
                case .uploaded:
                    done[path] = record
                case .vanished:
                    throw Failure(description: "\(path) vanished before it was uploaded")
                case .pending, .failed:
                    break
                }
            }
            waiting.subtract(done.keys)
            if waiting.isEmpty { return paths.compactMap { done[$0] } }
            if Date() >= deadline {
                throw Failure(
                    description:
                        "\(waiting.count) snapshot files not uploaded before the deadline, e.g. \(waiting.sorted().prefix(3))"
                )
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Waits for the pool to hold every file, builds the manifest, and checks it against the
    /// bucket before it may be written (invariant 4). The agent's upload-once state can be stale:
    /// a prune may have swept an object this agent believes is there, which the next snapshot's
    /// hard link of the same file would then list. Objects found missing or different are
    /// forgotten, uploaded again, and the manifest is checked again, a bounded number of times.
    func checkedManifest(
        command: AgentAPI.SnapshotCommand, takenAt: Date, files: [String], logger: Logger,
        origin: NodeManifest.Origin = .cluster, attempts: Int = 3
    ) async throws -> NodeManifest {
        let repository = Repository(store: node.store, keys: node.keys)
        var attempt = 1
        while true {
            let records = try await waitUntilStored(files, deadline: command.deadline)
            var manifest = try await buildManifest(command: command, takenAt: takenAt, records: records)
            manifest.origin = origin
            let problems = try await repository.checkObjects(of: manifest)
            if problems.isEmpty { return manifest }
            guard attempt < attempts else {
                throw Failure(
                    description:
                        "\(problems.count) objects the manifest lists are still not right in the bucket after \(attempt) uploads, e.g. \(problems[0])"
                )
            }
            logger.warning(
                "Objects the agent had uploaded are not in the bucket (pruned or changed); uploading them again",
                metadata: ["objects.count": "\(problems.count)", "objects.example": "\(problems[0])"])
            let paths = try await node.state.forgetObjects(problems.map(\.file.objectKey))
            try await node.ingest(paths.map { .fileAppeared($0) })
            attempt += 1
        }
    }

    /// Builds the node manifest from what the pool holds and uploads `tokens.json`; the caller
    /// checks it and puts it last (invariant 4).
    func buildManifest(command: AgentAPI.SnapshotCommand, takenAt: Date, records: [AgentState.FileRecord])
        async throws
        -> NodeManifest
    {
        struct TableKey: Hashable {
            var keyspace: String
            var table: String
            var id: TableID?
        }
        struct TableEntry {
            var snapshotFiles: [NodeManifest.File] = []
            var sstables: [String: NodeManifest.SSTable] = [:]
            var opaqueFiles: [NodeManifest.OpaqueFile] = []
        }
        var tables: [TableKey: TableEntry] = [:]
        for record in records {
            let dataPath = try DataPath.classify(
                path: record.path, dataDirectories: node.dataDirectories, isDirectory: false)
            guard let table = dataPath.table, let sha = record.sha256, let key = record.objectKey else {
                throw Failure(
                    description: "\(record.path) has no table, checksum or object key in the agent state")
            }
            let file = NodeManifest.File(
                fileName: (record.path as NSString).lastPathComponent, size: record.identity.size,
                sha256: try SHA256Digest(hex: sha), objectKey: key)
            let tableKey = TableKey(keyspace: table.keyspace, table: table.table, id: table.id)
            var entry = tables[tableKey] ?? TableEntry()
            if let opaque = dataPath.opaqueFile {
                entry.opaqueFiles.append(
                    NodeManifest.OpaqueFile(
                        fileName: opaque.name, index: dataPath.indexName, size: file.size,
                        sha256: file.sha256,
                        objectKey: file.objectKey))
            } else if let sstable = dataPath.sstable {
                let name = sstable.descriptor.sstableName
                let groupKey = (dataPath.indexName ?? "") + "/" + name
                var group =
                    entry.sstables[groupKey]
                    ?? NodeManifest.SSTable(name: name, index: dataPath.indexName, files: [])
                group.files.append(file)
                entry.sstables[groupKey] = group
            } else {
                entry.snapshotFiles.append(file)
            }
            tables[tableKey] = entry
        }

        let tokensKey = node.keys.key(for: .nodeTokens(host: node.host, tag: command.tag))
        let tokens = try JSONSerialization.data(
            withJSONObject: ["tokens": info.tokens], options: [.sortedKeys])
        let tokensInfo = try await node.store.put(key: tokensKey, source: .bytes(Array(tokens)))
        let nodeFiles = [
            NodeManifest.File(
                fileName: "tokens.json", size: tokensInfo.size,
                sha256: try SHA256Digest(hex: tokensInfo.sha256 ?? ""),
                objectKey: tokensKey)
        ]

        let manifest = NodeManifest(
            cluster: node.keys.cluster,
            node: NodeManifest.Node(
                hostID: node.host, hostname: ProcessInfo.processInfo.hostName, datacenter: info.datacenter,
                rack: info.rack, tokens: info.tokens, cassandraVersion: info.releaseVersion,
                cassandraClusterName: info.clusterName),
            tag: command.tag, takenAt: takenAt, nodeFiles: nodeFiles,
            tables: tables.sorted { ($0.key.keyspace, $0.key.table) < ($1.key.keyspace, $1.key.table) }.map {
                key, value in
                NodeManifest.Table(
                    keyspace: key.keyspace, table: key.table, tableID: key.id,
                    snapshotFiles: value.snapshotFiles.sorted { $0.fileName < $1.fileName },
                    sstables: value.sstables.values
                        .map {
                            NodeManifest.SSTable(
                                name: $0.name, index: $0.index,
                                files: $0.files.sorted { $0.fileName < $1.fileName })
                        }
                        .sorted { (($0.index ?? ""), $0.name) < (($1.index ?? ""), $1.name) },
                    opaqueFiles: value.opaqueFiles.sorted {
                        (($0.index ?? ""), $0.fileName) < (($1.index ?? ""), $1.fileName)
                    })
            })
        try manifest.validate()
        return manifest
    }
}
