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

    @Test func populateMakesAOneTwoLeveledNodeOrAFiveZeroNodeWithSAI() throws {
        try TemporaryDirectory.with { dir in
            let legacy = try Subprocess.run(
                TestBinaries.url(for: "fake-nodetool"),
                [
                    "populate", "--root", dir.appendingPathComponent("a").path, "--keyspaces", "1",
                    "--tables",
                    "1", "--format", "ic", "--leveled-manifest",
                ])
            #expect(legacy.exitCode == 0, "\(legacy.standardError)")
            let data = legacy.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(FileManager.default.fileExists(atPath: data + "/ks0/t0/t0.json"))
            let version = try Subprocess.run(
                TestBinaries.url(for: "fake-nodetool"), ["--data-dir", data, "version"])
            #expect(version.standardOutput == "ReleaseVersion: 1.2.19\n")

            let sai = try Subprocess.run(
                TestBinaries.url(for: "fake-nodetool"),
                [
                    "populate", "--root", dir.appendingPathComponent("b").path, "--keyspaces", "1",
                    "--tables",
                    "1", "--sstables", "1", "--format", "oa", "--sai", "age_idx", "--release-version",
                    "5.0.2",
                ])
            #expect(sai.exitCode == 0, "\(sai.standardError)")
            let files =
                FileManager.default.enumerator(
                    atPath: sai.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))?
                .compactMap { $0 as? String } ?? []
            #expect(files.contains { $0.hasSuffix("/oa-1-big-SAI+aa+age_idx+Meta.db") })
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
