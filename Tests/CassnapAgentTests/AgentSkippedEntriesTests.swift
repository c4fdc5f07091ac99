import CassnapTestSupport
import Foundation
import Logging
import Testing

@testable import CassnapAgent

/// Entries in a snapshot that cannot ship (a FIFO, a symbolic link, a name with a line break —
/// which no restore may write, so it is not even an opaque file — or
/// that is not UTF-8) are logged once each with the reason; an empty `Data.db` ships with a
/// warning. Real directories, the agent's own listing (`--once`, reconcile) and its watcher.
@Suite struct AgentSkippedEntriesTests {
    static let skipMessage = "Skipping an entry that cannot be shipped"
    static let emptyMessage = "Shipping an empty Data.db: the SSTable is probably truncated"

    struct Node {
        var data: String
        var snapshot: String
        var configuration: AgentConfiguration
    }

    static func node(_ root: URL) throws -> Node {
        let data = root.appendingPathComponent("data").path
        let snapshot = data + "/ks1/users-0123456789abcdef0123456789abcdef/snapshots/nightly"
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        var configuration = AgentConfiguration()
        configuration.dataDirectories = [data]
        configuration.store = "file://" + root.appendingPathComponent("bucket").path
        configuration.stateDirectory = root.appendingPathComponent("state").path
        configuration.cluster = AgentTestSupport.cluster
        configuration.hostID = AgentTestSupport.hostID
        configuration.reconcileInterval = Interval(seconds: 600)
        return Node(data: data, snapshot: snapshot, configuration: configuration)
    }

    /// The odd entries, each with the path its log line must show and words of its reason.
    static func makeOddEntries(in directory: String, suffix: String) throws -> [(
        path: String, reason: String
    )] {
        let fifo = directory + "/nb-2\(suffix)-big-Data.db"
        #expect(mkfifo(fifo, 0o644) == 0)
        let link = directory + "/nb-3\(suffix)-big-Data.db"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "nb-1-big-Data.db")
        let newline = directory + "/nb-4\(suffix)-big-Data\n.db"
        #expect(FileManager.default.createFile(atPath: newline, contents: Data("x".utf8)))
        let invalid = Array((directory + "/nb-5\(suffix)-big-").utf8) + [0xFF] + Array("-Data.db".utf8)
        let fd = (invalid + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        #expect(fd >= 0)
        close(fd)
        return [
            (fifo, "a FIFO, not a regular file"),
            (link, "a symbolic link, not a regular file"),
            (directory + "/nb-4\(suffix)-big-Data\\n.db", "control character"),
            (directory + "/nb-5\(suffix)-big-\\xFF-Data.db", "not valid UTF-8"),
        ]
    }

    static func expectLoggedOnce(
        _ expected: [(path: String, reason: String)], in log: CapturedLog,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let skips = log.records(skipMessage)
        for (path, reason) in expected {
            let lines = skips.filter { $0.metadata["file.path"] == path }
            #expect(lines.count == 1, "\(path): \(skips.map(\.metadata))", sourceLocation: sourceLocation)
            #expect(lines.first?.level == .notice, sourceLocation: sourceLocation)
            #expect(
                lines.first?.metadata["skip.reason"]?.contains(reason) == true,
                "\(lines.first?.metadata ?? [:])",
                sourceLocation: sourceLocation)
        }
        #expect(
            !skips.contains { $0.metadata["file.path"]?.contains("\n") == true },
            sourceLocation: sourceLocation)
    }

    @Test func onceAndReconcileLogEachSkippedEntryOnceAndShipAnEmptyDataFileWithAWarning() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Self.node(root)
            let good = node.snapshot + "/nb-1-big-Data.db"
            #expect(FileManager.default.createFile(atPath: good, contents: Data(repeating: 7, count: 100)))
            let empty = node.snapshot + "/nb-6-big-Data.db"
            #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
            let odd = try Self.makeOddEntries(in: node.snapshot, suffix: "")

            let log = CapturedLog()
            let agent = try await Agent.build(
                configuration: node.configuration, once: true, logger: log.logger())
            let summary = try await agent.runOnce()
            #expect(summary.succeeded, "\(summary)")
            Self.expectLoggedOnce(odd, in: log)
            #expect(!log.records(Self.skipMessage).contains { $0.metadata["file.path"] == good })

            // The empty Data.db ships as it was, with one warning.
            #expect(try await agent.state.file(path: empty)?.status == .uploaded)
            #expect(try await agent.state.file(path: good)?.status == .uploaded)
            let warnings = log.records(Self.emptyMessage)
            #expect(warnings.count == 1)
            #expect(warnings.first?.level == .warning)
            #expect(warnings.first?.metadata["file.path"] == empty)

            // A reconcile lists everything again and says nothing new.
            let before = log.records.count {
                $0.message == Self.skipMessage || $0.message == Self.emptyMessage
            }
            try await agent.reconcile()
            let after = log.records.count {
                $0.message == Self.skipMessage || $0.message == Self.emptyMessage
            }
            #expect(after == before)
        }
    }

    @Test func theWatcherLogsSkippedEntriesFromItsListingAndFromEvents() async throws {
        try await TemporaryDirectory.with { root in
            let node = try Self.node(root)
            #expect(
                FileManager.default.createFile(
                    atPath: node.snapshot + "/nb-1-big-Data.db", contents: Data(repeating: 7, count: 100)))
            let listed = try Self.makeOddEntries(in: node.snapshot, suffix: "0")
            let log = CapturedLog()
            let agent = try await Agent.build(configuration: node.configuration, logger: log.logger())
            try await AgentTestSupport.withRunningAgent(agent) {
                let fromListing = await AgentTestSupport.waitUntil(timeout: 120) {
                    log.records(Self.skipMessage).count >= listed.count
                }
                #expect(fromListing)
                // Made while the agent watches: found by events (one new snapshot directory too).
                let later = node.data + "/ks1/users-0123456789abcdef0123456789abcdef/snapshots/later"
                try FileManager.default.createDirectory(atPath: later, withIntermediateDirectories: true)
                let created = try Self.makeOddEntries(in: node.snapshot, suffix: "7")
                let inNewDirectory = try Self.makeOddEntries(in: later, suffix: "8")
                let all = listed + created + inNewDirectory
                let fromEvents = await AgentTestSupport.waitUntil(timeout: 120) {
                    Set(log.records(Self.skipMessage).compactMap { $0.metadata["file.path"] })
                        .isSuperset(of: all.map(\.path))
                }
                #expect(fromEvents, "\(log.records(Self.skipMessage).map(\.metadata))")
                try await agent.reconcile()
                Self.expectLoggedOnce(all, in: log)
            }
        }
    }

    @Test func theSetOfReportedPathsIsCapped() {
        var once = OncePerPath(capacity: 2)
        #expect(once.admit("/a") == .first)
        #expect(once.admit("/a") == .seen)
        #expect(once.admit("/b") == .first)
        #expect(once.admit("/c") == .capacityReached)
        #expect(once.admit("/d") == .seen)
        #expect(once.admit("/a") == .seen)
    }
}
