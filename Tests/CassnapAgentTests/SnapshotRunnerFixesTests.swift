import CassnapAPI
import CassnapCore
import CassnapTestSupport
import Foundation
import Testing

@testable import CassnapAgent

/// Two fixes of issue 10 beside the opaque files: a table-filtered snapshot on 1.2 uses `-cf`
/// (its nodetool refuses `-kt`), and a failed snapshot does not leave its hard links behind.
@Suite struct SnapshotRunnerFixesTests {
    typealias S = AgentTestSupport
    typealias R = SnapshotRunnerOpaqueTests

    @Test func aOneTwoNodeSnapshotsOneTableWithTheCFForm() async throws {
        try await TemporaryDirectory.with { root in
            let node = try R.node(root) {
                $0.format = .ic
                $0.leveledManifest = true
            }
            let (report, manifest, agent) = try await R.run(
                node, try R.command("lcs-one", tables: ["ks0.t0"]))
            #expect(report.error == nil, "\(report.error ?? "")")
            let written = try #require(manifest)
            #expect(written.tables.map(\.table) == ["t0"], "only the table the command named")
            #expect(written.tables.first?.opaqueFiles.map(\.fileName) == ["t0.json"])
            #expect(
                !FileManager.default.fileExists(
                    atPath: node.fixture.tables[1].directory.path + "/snapshots/lcs-one"))
            try await R.expectOpaqueFilesRestoreByteForByte(
                written, tag: "lcs-one", node: node, store: agent.store)
        }
    }

    @Test func aFailedSnapshotIsClearedWhenClearingIsAsked() async throws {
        try await TemporaryDirectory.with { root in
            var node = try R.node(root) { _ in }
            // Snapshot files are not shipped, so the runner waits in vain until the deadline.
            node.configuration.watch.snapshots = false
            let log = CapturedLog()
            let (report, manifest, _) = try await R.run(
                node, try R.command("doomed", deadline: 2, clear: true), log: log)
            #expect(
                report.error?.contains("not uploaded before the deadline") == true, "\(report.error ?? "")")
            #expect(manifest == nil)
            for table in node.fixture.tables {
                #expect(!FileManager.default.fileExists(atPath: table.directory.path + "/snapshots/doomed"))
            }
            #expect(log.records("Snapshot cleared").first?.metadata["snapshot.cleared_after"] == "failure")
        }
    }

    @Test func aTagThisRunDidNotTakeIsNeverCleared() async throws {
        try await TemporaryDirectory.with { root in
            let node = try R.node(root) { _ in }
            try node.fixture.nodetool().snapshot(tag: "operators")
            let (report, _, _) = try await R.run(node, try R.command("operators", clear: true))
            #expect(report.error?.contains("already exists") == true, "\(report.error ?? "")")
            for table in node.fixture.tables {
                #expect(FileManager.default.fileExists(atPath: table.directory.path + "/snapshots/operators"))
            }
        }
    }

    @Test(
        "nodetool arguments follow the release",
        arguments: [
            ("1.2.19", ["ks.t"], ["-cf", "t", "ks"]),
            ("2.1.22", ["ks.t"], ["-cf", "t", "ks"]),
            ("1.2.19", ["ks.a", "ks.b", "other.c"], ["ks", "other"]),
            ("3.11.17", ["ks.a", "ks.b"], ["-kt", "ks.a,ks.b"]),
            ("unknown", ["ks.a"], ["-kt", "ks.a"]),
            ("1.2.19", [], []),
        ])
    func snapshotArguments(release: String, tables: [String], expected: [String]) async throws {
        try await TemporaryDirectory.with { root in
            let node = try R.node(root) { $0.tablesPerKeyspace = 1 }
            let agent = try await Agent.build(configuration: node.configuration, logger: S.logger)
            var info = Nodetool.NodeInfo()
            info.releaseVersion = release
            let runner = SnapshotRunner(
                node: agent.context, nodetool: node.nodetool, info: info, logger: S.logger)
            #expect(
                runner.snapshotArguments(try R.command("t1", tables: tables))
                    == ["snapshot", "-t", "t1"] + expected)
        }
    }
}
