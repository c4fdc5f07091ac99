import ArgumentParser
import CassnapCore
import CassnapRepository
import Foundation

/// `cassnap verify SNAPSHOT`: can this snapshot be restored? Reads the bucket alone.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every object of a snapshot's node manifests is in the bucket as listed.",
        discussion: """
            Without --deep, each object must exist with the size its manifest lists. With --deep, \
            each object is also downloaded and its SHA-256 compared with the manifest. Exit 0 when \
            every complete node is restorable, 1 when an object is missing, short or corrupt, 4 when \
            the snapshot is partial (the nodes it has are fine).
            """)

    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @Option(name: .customLong("node"), help: "Only this node (host ID or hostname); repeatable.")
    var nodes: [String] = []
    @Flag(help: "Download every object and check its SHA-256.") var deep = false
    @Option(help: "Objects checked at once with --deep.") var concurrency = 8
    @OptionGroup var repository: RepositoryOptions

    func run() async throws {
        try await withRepositoryErrors {
            let repo = try await repository.open()
            let record = try await repo.clusterSnapshotOrNodeSnapshot(snapshot, nodes: nodes)
            let only = nodes.isEmpty ? nil : try resolveNodes(nodes, in: record)
            let result = try await repo.verify(record, only: only, deep: deep, concurrency: concurrency)
            if repository.coordinator.json {
                print(try JSONOutput.pretty(VerifyReport(result)))
            } else {
                print(
                    "snapshot \(record.tag) (\(record.id)), \(record.status.rawValue), \(deep ? "deep" : "sizes") check"
                )
                for node in result.nodes {
                    let name = node.hostname.map { "\($0) (\(node.hostID))" } ?? "\(node.hostID)"
                    if node.recordStatus != .complete {
                        print("  \(name): \(node.recordStatus.rawValue) in the record, nothing to check")
                    } else if let error = node.manifestError {
                        print("  \(name): MANIFEST UNREADABLE: \(error)")
                    } else if node.problems.isEmpty {
                        print("  \(name): ok, \(node.files) files, \(node.bytes) bytes")
                    } else {
                        print("  \(name): \(node.problems.count) of \(node.files) files NOT RESTORABLE")
                        for problem in node.problems { print("    \(problem)") }
                    }
                }
            }
            if !result.completeNodesAreRestorable { throw ExitCode(ExitStatus.failure) }
            if result.nodes.contains(where: { $0.recordStatus != .complete }) {
                throw ExitCode(ExitStatus.partial)
            }
        }
    }
}

/// `verify --json`.
struct VerifyReport: Encodable {
    struct Node: Encodable {
        var hostId: String
        var hostname: String?
        var status: String
        var restorable: Bool
        var manifestError: String?
        var files: Int
        var bytes: Int64
        var problems: [Problem]
    }
    struct Problem: Encodable {
        var objectKey: String
        var fileName: String
        var problem: String
    }
    var snapshotId: String
    var tag: String
    var deep: Bool
    var restorable: Bool
    var nodes: [Node]

    init(_ v: SnapshotVerification) {
        snapshotId = v.record.id.description
        tag = v.record.tag.rawValue
        deep = v.deep
        restorable = v.completeNodesAreRestorable
        nodes = v.nodes.map { n in
            Node(
                hostId: n.hostID.description, hostname: n.hostname, status: n.recordStatus.rawValue,
                restorable: n.isRestorable, manifestError: n.manifestError, files: n.files, bytes: n.bytes,
                problems: n.problems.map {
                    Problem(objectKey: $0.file.objectKey, fileName: $0.file.fileName, problem: $0.description)
                })
        }
    }
}
