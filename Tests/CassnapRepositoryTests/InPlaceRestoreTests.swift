import CassnapCore
import CassnapRepository
import CassnapTestSupport
import Foundation
import Testing

/// `restore --in-place DATA_DIR` and `--host-map`: the layouts, the refusal while a process holds
/// the directory, and files the snapshot does not hold moved aside, never deleted.
@Suite("In-place restore")
struct InPlaceRestoreTests {
    @Test func anInPlacePlanDropsTheHostLevelAndTheNodeFiles() async throws {
        let node = try await BackedUpNode()
        let plan = try RestorePlan(manifest: node.manifest, keys: node.keys).inPlace()
        #expect(plan.directoryName == "")
        #expect(plan.entries.count == node.manifest.allFiles.count - node.manifest.nodeFiles.count)
        #expect(plan.entries.contains { $0.path == "shop/legacy/nb-1-big-Data.db" })
        #expect(
            plan.entries.contains {
                $0.path == "shop/orders-5a1c395eb41f11e59f22ba0be0483c18/.by_day/nb-3-big-Data.db"
            })
        #expect(!plan.entries.contains { $0.path.hasSuffix("tokens.json") })
        try await TemporaryDirectory.with { dir in
            let data = dir.appendingPathComponent("data").path
            let outcome = try await Restorer(repository: node.repository).restore([plan], into: data)
            #expect(outcome.failures.isEmpty)
            #expect(Set(files(under: data).keys) == Set(plan.entries.map(\.path)))
        }
    }

    @Test func aHostMapPlacesANodeUnderItsNewName() async throws {
        let node = try await BackedUpNode()
        let plan = try RestorePlan(manifest: node.manifest, keys: node.keys).placed(under: "new-node-1")
        #expect(plan.entries.allSatisfy { $0.path.hasPrefix("new-node-1/") })
        #expect(plan.entries.contains { $0.path == "new-node-1/tokens.json" })
        #expect(throws: RepositoryError.self) {
            _ = try RestorePlan(manifest: node.manifest, keys: node.keys).placed(under: "../escape")
        }
        #expect(throws: RepositoryError.self) {
            _ = try RestorePlan(manifest: node.manifest, keys: node.keys).placed(under: "a/b")
        }
    }

    @Test func aProcessWithAnOpenFileOrItsWorkingDirectoryInsideHoldsTheDirectory() async throws {
        try await TemporaryDirectory.with { dir in
            let data = dir.appendingPathComponent("data")
            let table = data.appendingPathComponent("ks/t-0123")
            try FileManager.default.createDirectory(at: table, withIntermediateDirectories: true)
            let sstable = table.appendingPathComponent("nb-1-big-Data.db")
            try Data("rows".utf8).write(to: sstable)
            #expect(InPlaceRestore.holders(of: data.path).isEmpty, "nothing holds it yet")

            // A stand-in for Cassandra: a process keeping an SSTable open.
            let reader = Process()
            reader.executableURL = URL(fileURLWithPath: "/bin/sh")
            reader.arguments = ["-c", "exec 3<\"$0\"; exec sleep 30", sstable.path]
            try reader.run()
            defer {
                reader.terminate()
                reader.waitUntilExit()
            }
            var holders: [InPlaceRestore.Holder] = []
            for _ in 0..<50 {  // until the shell has opened the file: at most 5 s
                holders = InPlaceRestore.holders(of: data.path)
                if !holders.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(holders.map(\.pid) == [reader.processIdentifier], "\(holders)")
            #expect(holders.first?.evidence.contains("nb-1-big-Data.db") == true)
            #expect(
                InPlaceRestore.holders(of: dir.appendingPathComponent("dat").path).isEmpty,
                "a sibling whose name is a prefix is not the directory")

            let idle = Process()
            idle.executableURL = URL(fileURLWithPath: "/bin/sleep")
            idle.arguments = ["30"]
            idle.currentDirectoryURL = table
            try idle.run()
            defer {
                idle.terminate()
                idle.waitUntilExit()
            }
            let both = InPlaceRestore.holders(of: data.path)
            #expect(
                both.contains {
                    $0.pid == idle.processIdentifier && $0.evidence.contains("working directory")
                })
        }
    }

    @Test func filesTheSnapshotDoesNotHoldAreFoundAndMovedAsideNotDeleted() async throws {
        let node = try await BackedUpNode()
        let plan = try RestorePlan(manifest: node.manifest, keys: node.keys).inPlace()
        try await TemporaryDirectory.with { dir in
            let data = dir.appendingPathComponent("data").path
            // A first, partial run left one restored file and a staging file; the node also has
            // a newer SSTable, an index file and its own snapshots.
            let legacy = data + "/shop/legacy"
            let index = data + "/shop/orders-5a1c395eb41f11e59f22ba0be0483c18/.by_day"
            for directory in [legacy + "/snapshots/old", index] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            _ = try await Restorer(repository: node.repository).restore(
                [
                    RestorePlan(
                        manifest: plan.manifest, keys: node.keys, filter: .init(tables: ["shop.legacy"])
                    ).inPlace()
                ],
                into: data)
            for path in [
                legacy + "/nb-9-big-Data.db", legacy + "/.nb-1-big-Index.db.cassnap-restore",
                legacy + "/snapshots/old/nb-1-big-Data.db", index + "/nb-8-big-Data.db",
            ] {
                try Data("newer".utf8).write(to: URL(fileURLWithPath: path))
            }
            let foreign = InPlaceRestore.foreignFiles(of: plan, in: data)
            #expect(
                foreign == [
                    "shop/legacy/nb-9-big-Data.db",
                    "shop/orders-5a1c395eb41f11e59f22ba0be0483c18/.by_day/nb-8-big-Data.db",
                ], "restored files, staging files and snapshots/ are not foreign")

            let aside = try InPlaceRestore.displace(
                foreign, in: data, now: Date(timeIntervalSince1970: 1_700_000_000))
            #expect(aside == data + "/.cassnap-displaced-20231114T221320Z")
            #expect(InPlaceRestore.foreignFiles(of: plan, in: data).isEmpty)
            for file in foreign {
                #expect(
                    FileManager.default.contents(atPath: aside + "/" + file) == Data("newer".utf8), "\(file)")
            }
        }
    }
}
