import Foundation
import Testing

@testable import CassnapTestSupport

@Suite("fake-nodetool as a process")
struct FakeNodetoolProcessTests {
    @Test("TestBinaries finds the built fake-nodetool, and explains a missing binary")
    func locatesBinary() throws {
        let url = try TestBinaries.url(for: "fake-nodetool")
        #expect(url.lastPathComponent == "fake-nodetool")
        let error = #expect(throws: TestBinaries.NotFound.self) {
            try TestBinaries.url(for: "no-such-binary")
        }
        #expect(error?.description.contains("swift build") == true)
    }

    @Test("snapshot, listsnapshots and errors through a real subprocess")
    func subprocess() throws {
        let binary = try TestBinaries.url(for: "fake-nodetool")
        try withNode({ $0.tablesPerKeyspace = 2 }) { node in
            var environment = ProcessInfo.processInfo.environment
            environment["FAKE_NODETOOL_DATA_DIR"] = node.dataDirectories[0].path
            let snapshot = try Subprocess.run(
                binary, ["-h", "127.0.0.1", "snapshot", "-t", "proc"], environment: environment)
            #expect(snapshot.exitCode == 0, "\(snapshot.standardError)")
            #expect(
                snapshot.standardOutput
                    == "Requested creating snapshot(s) for [all keyspaces] with snapshot name [proc] and options {skipFlush=false}\nSnapshot directory: proc\n"
            )
            for table in node.tables {
                for file in table.sstables.flatMap(\.files) {
                    #expect(
                        inode(table.directory.appendingPathComponent("snapshots/proc/\(file.name)"))
                            == inode(file.url))
                }
            }
            let list = try Subprocess.run(binary, ["listsnapshots"], environment: environment)
            #expect(list.exitCode == 0)
            #expect(
                list.standardOutput.split(separator: "\n").filter { $0.hasPrefix("proc ") }.count
                    == node.tables.count)

            let again = try Subprocess.run(binary, ["snapshot", "-t", "proc"], environment: environment)
            #expect(again.exitCode == 2)
            #expect(again.standardError.hasPrefix("error: Snapshot proc already exists.\n"))
            let usage = try Subprocess.run(binary, ["nonsense"], environment: environment)
            #expect(usage.exitCode == 1)
            #expect(usage.standardError.hasPrefix("nodetool: Found unexpected parameters: [nonsense]"))

            let flush = try Subprocess.run(
                binary, ["flush", "ks0", "t1", "--size", "4K", "--write-delay-ms", "1"],
                environment: environment)
            #expect(flush.exitCode == 0, "\(flush.standardError)")
            #expect(names(in: node.table("ks0", "t1")!.directory).contains("nb-4-big-Data.db"))
        }
    }
}
