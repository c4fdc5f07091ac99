import CassnapTestSupport
import Foundation
import Testing

/// The three programs build and answer `--help` with their command trees.
@Suite struct ExecutablesTests {
    @Test(arguments: [
        ("cassnap", ["snapshot", "nodes", "sstables", "catalog", "store"]),
        ("cassnap-agent", ["run"]),
        ("cassnap-coordinator", ["run"]),
    ])
    func helpListsTheSubcommands(name: String, subcommands: [String]) throws {
        let result = try Subprocess.run(TestBinaries.url(for: name), ["--help"])
        #expect(result.exitCode == 0)
        #expect(result.standardOutput.contains("USAGE: \(name)"))
        for sub in subcommands {
            #expect(result.standardOutput.contains("  \(sub)"), "\(name) --help lacks \(sub)")
        }
    }

    @Test func unimplementedCommandsSaySoAndExit70() throws {
        let result = try Subprocess.run(TestBinaries.url(for: "cassnap"), ["nodes"])
        #expect(result.exitCode == 70)
        #expect(result.standardOutput.contains("not implemented yet"))
    }

    @Test func aBadFlagIsAUsageErrorNamingTheFlag() throws {
        let result = try Subprocess.run(
            TestBinaries.url(for: "cassnap"), ["snapshot", "list", "--no-such-flag"])
        #expect(result.exitCode == 64)
        #expect(result.standardError.contains("--no-such-flag"))
    }
}
