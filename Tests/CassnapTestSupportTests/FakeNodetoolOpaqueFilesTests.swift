import Foundation
import Testing

@testable import CassnapTestSupport

/// The files real nodes keep beside their SSTables (SAI, SASI, 1.2's leveled manifest) and
/// the 1.2 nodetool that refuses `-kt`: what the agent must cope with on real clusters.
@Suite("FakeNodetool opaque files and old releases")
struct FakeNodetoolOpaqueFilesTests {
    @Test("a 5.0 node with SAI has per-SSTable and per-index components, listed in TOC.txt and snapshotted")
    func saiComponents() throws {
        try withNode({
            $0.format = .oa
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 2
            $0.saiIndexes = ["age_idx", "name_idx"]
        }) { node in
            let sstable = node.sstables[0]
            let names = Set(sstable.fileNames)
            #expect(names.contains("oa-1-big-SAI+aa+GroupComplete.db"))
            #expect(names.contains("oa-1-big-SAI+aa+TokenValues.db"))
            #expect(names.contains("oa-1-big-SAI+aa+age_idx+Meta.db"))
            #expect(names.contains("oa-1-big-SAI+aa+name_idx+ColumnComplete.db"))
            #expect(sstable.files.count == 8 + 6 + 2 * 4)
            let toc = try readText(sstable.directory.appendingPathComponent("oa-1-big-TOC.txt"))
            #expect(toc.contains("SAI+aa+age_idx+Meta.db\n"))
            _ = try node.nodetool().snapshot(tag: "s1")
            let snapshot = node.tables[0].directory.appendingPathComponent("snapshots/s1")
            let link = snapshot.appendingPathComponent("oa-1-big-SAI+aa+age_idx+PostingLists.db")
            #expect(inode(link) != nil)
            #expect(inode(link) == inode(sstable.directory.appendingPathComponent(link.lastPathComponent)))
        }
    }

    @Test("SASI writes SI_<index>.db beside every SSTable")
    func sasiComponents() throws {
        try withNode({
            $0.format = .me
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 1
            $0.sasiIndexes = ["note_idx"]
        }) { node in
            #expect(node.sstables[0].fileNames.contains("me-1-big-SI_note_idx.db"))
            _ = try node.nodetool().snapshot(tag: "s1")
            #expect(
                names(in: node.tables[0].directory.appendingPathComponent("snapshots/s1"))
                    .contains("me-1-big-SI_note_idx.db"))
        }
    }

    @Test(
        "a 1.2 LCS table keeps <table>.json live and in each snapshot, and nothing else Cassandra 2.1+ adds")
    func leveledManifest() throws {
        try withNode({
            $0.format = .ic
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 2
            $0.leveledManifest = true
        }) { node in
            let table = node.tables[0]
            #expect(table.directory.lastPathComponent == "t0")
            let live = table.directory.appendingPathComponent("t0.json")
            let json = try readText(live)
            #expect(json.contains("\"generation\" : 0,\n    \"members\" : [ 1, 2 ]"))
            #expect(
                try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] != nil)
            let nodetool = node.nodetool()
            #expect(nodetool.configuration.releaseVersion == "1.2.19")
            let result = run(["snapshot", "-t", "s1", "-cf", "t0", "ks0"], node: node)
            #expect(result.exitCode == 0, "\(result.standardError)")
            let snapshot = table.directory.appendingPathComponent("snapshots/s1")
            #expect(names(in: snapshot) == Set(table.sstables.flatMap(\.fileNames) + ["t0.json"]))
            #expect(inode(snapshot.appendingPathComponent("t0.json")) == inode(live))
            #expect(run(["version"], node: node).standardOutput == "ReleaseVersion: 1.2.19\n")
        }
    }

    @Test("1.2's nodetool refuses -kt; later releases take it")
    func ktIsRefusedByOneTwo() throws {
        try withNode({
            $0.format = .ic
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
        }) { node in
            let refused = run(["snapshot", "-t", "s1", "-kt", "ks0.t0"], node: node)
            #expect(refused.exitCode == 1)
            #expect((refused.standardOutput + refused.standardError).contains("Unrecognized option: -kt"))
            #expect(!exists(node.tables[0].directory.appendingPathComponent("snapshots/s1")))
            let modern = run(
                ["snapshot", "-t", "s1", "-kt", "ks0.t0"], node: node,
                environment: ["FAKE_NODETOOL_RELEASE_VERSION": "4.1.5"])
            #expect(modern.exitCode == 0)
        }
    }
}
