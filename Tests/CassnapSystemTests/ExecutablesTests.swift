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

    @Test func anUnreachableCoordinatorIsExit69NamingIt() throws {
        let result = try Subprocess.run(
            TestBinaries.url(for: "cassnap"),
            ["nodes", "--coordinator", "http://127.0.0.1:1", "--token", "t"])
        #expect(result.exitCode == 69)
        #expect(result.standardError.contains("127.0.0.1:1"))
    }

    @Test func aBadFlagIsAUsageErrorNamingTheFlag() throws {
        let result = try Subprocess.run(
            TestBinaries.url(for: "cassnap"), ["snapshot", "list", "--no-such-flag"])
        #expect(result.exitCode == 64)
        #expect(result.standardError.contains("--no-such-flag"))
    }
}
