import Foundation
import Testing

@testable import CassnapTestSupport

@Suite("FakeNodetool command line")
struct FakeNodetoolCommandLineTests {
    @Test("info prints a stable host ID, created once in the node root")
    func infoHostID() throws {
        try withNode { node in
            let first = run(["info"], node: node)
            #expect(first.exitCode == 0)
            let idLine = try #require(first.standardOutput.split(separator: "\n").first)
            #expect(idLine.hasPrefix("ID                     : "))
            let id = String(idLine.dropFirst("ID                     : ".count))
            #expect(UUID(uuidString: id) != nil)
            let file = try readText(node.root.appendingPathComponent(FakeNodetool.hostIDFileName))
            #expect(file.trimmingCharacters(in: .whitespacesAndNewlines) == id)
            #expect(run(["info"], node: node).standardOutput.hasPrefix("ID                     : \(id)\n"))
            let libraryID = try node.nodetool().hostID()
            #expect(libraryID.uuidString.lowercased() == id)
            for label in [
                "Gossip active          : true", "Load                   : ",
                "Data Center            : datacenter1", "Rack                   : rack1",
            ] {
                #expect(first.standardOutput.contains("\n" + label))
            }

            let forced = "11111111-2222-4333-8444-555555555555"
            let overridden = run(
                ["info", "-T"], node: node,
                environment: ["FAKE_NODETOOL_HOST_ID": forced, "FAKE_NODETOOL_DC": "dc2"])
            #expect(overridden.standardOutput.hasPrefix("ID                     : \(forced)\n"))
            #expect(overridden.standardOutput.contains("\nData Center            : dc2\n"))
            #expect(
                overridden.standardOutput.components(separatedBy: "\nToken                  : ").count == 17)
        }
    }

    @Test("version, status, describecluster, ring")
    func otherCommands() throws {
        try withNode { node in
            #expect(
                FakeNodetool.runCommandLine(["version"], environment: [:]).standardOutput
                    == "ReleaseVersion: 4.1.5\n")
            let status = run(["status"], node: node)
            let id = try node.nodetool().hostID().uuidString.lowercased()
            #expect(status.standardOutput.hasPrefix("Datacenter: datacenter1\n=======================\n"))
            #expect(status.standardOutput.contains("UN  127.0.0.1 "))
            #expect(status.standardOutput.contains(id))
            let cluster = run(["describecluster"], node: node).standardOutput
            #expect(cluster.hasPrefix("Cluster Information:\n\tName: Test Cluster\n"))
            #expect(cluster.contains("\tks0 -> Replication class: SimpleStrategy {replication_factor=1}\n"))
            #expect(run(["ring"], node: node).standardOutput.contains("127.0.0.1"))
        }
    }

    @Test("JMX options are accepted and ignored")
    func jmxOptions() throws {
        try withNode { node in
            let result = run(
                [
                    "-h", "10.0.0.1", "-p", "7199", "-u", "cassandra", "-pw", "secret", "--ssl", "-pwf",
                    "/nope",
                    "-Dcom.sun.jndi.rmiURLParsing=legacy", "snapshot", "-t", "jmx",
                ], node: node)
            #expect(result.exitCode == 0, "\(result.standardError)")
            #expect(exists(node.tables[0].directory.appendingPathComponent("snapshots/jmx/manifest.json")))
        }
    }

    @Test("unknown commands and options are usage errors (exit 1); failures exit 2")
    func errors() throws {
        try withNode { node in
            let unknown = run(["frobnicate"], node: node)
            #expect(unknown.exitCode == 1)
            #expect(
                unknown.standardError
                    == "nodetool: Found unexpected parameters: [frobnicate]\nSee 'nodetool help' or 'nodetool help <command>'.\n"
            )
            let option = run(["snapshot", "--bogus"], node: node)
            #expect(option.exitCode == 1)
            #expect(option.standardError.hasPrefix("nodetool: Found unexpected parameters: [--bogus]\n"))
            #expect(
                run(["snapshot", "-t"], node: node).standardError.hasPrefix(
                    "nodetool: Required values for option '-t' not provided"))
            let keyspace = run(["snapshot", "-t", "x", "nokeyspace"], node: node)
            #expect(keyspace.exitCode == 2)
            #expect(
                keyspace.standardError.hasPrefix(
                    "error: Keyspace nokeyspace does not exist\n-- StackTrace --\n"))
            let noData = FakeNodetool.runCommandLine(["info"], environment: [:])
            #expect(noData.exitCode == 2 && noData.standardError.contains("FAKE_NODETOOL_DATA_DIR"))
            let down = run(["snapshot", "-t", "d"], node: node, environment: ["FAKE_NODETOOL_DOWN": "1"])
            #expect(down.exitCode == 1 && down.standardError.contains("Connection refused"))
            #expect(!exists(node.tables[0].directory.appendingPathComponent("snapshots/d")))
        }
    }

    @Test("sizes parse and print like nodetool")
    func sizes() throws {
        #expect(try FakeNodetool.parseSize("65536") == 65536)
        #expect(try FakeNodetool.parseSize("64K") == 65536)
        #expect(try FakeNodetool.parseSize("1MiB") == 1 << 20)
        #expect(try FakeNodetool.parseSize("1.5M") == 3 << 19)
        #expect(throws: FakeNodetool.CommandError.self) { try FakeNodetool.parseSize("lots") }
        #expect(FakeNodetool.humanSize(12) == "12 bytes")
        #expect(FakeNodetool.humanSize(1024) == "1 KiB")
        #expect(FakeNodetool.humanSize(1536) == "1.5 KiB")
        #expect(FakeNodetool.humanSize(5 << 30) == "5 GiB")
    }
}
