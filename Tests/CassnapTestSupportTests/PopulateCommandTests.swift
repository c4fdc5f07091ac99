import CassnapTestSupport
import Foundation
import Testing

@Suite struct PopulateCommandTests {
    @Test func populateBuildsANodeAndPrintsItsDataDirectory() throws {
        try TemporaryDirectory.with { dir in
            let result = try Subprocess.run(
                TestBinaries.url(for: "fake-nodetool"),
                [
                    "populate", "--root", dir.path, "--keyspaces", "1", "--tables", "2", "--sstables", "3",
                    "--seed", "7",
                ])
            #expect(result.exitCode == 0, "\(result.standardError)")
            let dataDir = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            let files =
                FileManager.default.enumerator(atPath: dataDir)?.compactMap { $0 as? String }
                .filter { $0.hasSuffix("-Data.db") } ?? []
            #expect(files.count == 2 * 3)
            #expect(result.standardError.contains("populated 2 tables"))
        }
    }

    @Test func aBadOptionIsNamed() throws {
        let result = try Subprocess.run(
            TestBinaries.url(for: "fake-nodetool"), ["populate", "--root", "/tmp/x", "--tables", "many"])
        #expect(result.exitCode == 1)
        #expect(result.standardError.contains("--tables"))
        #expect(result.standardError.contains("many"))
    }
}
