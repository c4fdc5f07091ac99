import Foundation
import Testing

@testable import CassnapCore

/// docs/FORMAT.md shows the same examples as Fixtures/; neither may drift from the code.
@Suite("docs/FORMAT.md")
struct FormatDocumentTests {
    static var documentURL: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/FORMAT.md")
    }

    /// The fenced ```json blocks that follow an `<!-- example: <fixture> -->` marker.
    static func examples() throws -> [String: String] {
        let text = try String(contentsOf: documentURL, encoding: .utf8)
        var result: [String: String] = [:]
        var pending: String?
        var block: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if var lines = block {
                if line == "```" {
                    if let name = pending { result[name] = lines.joined(separator: "\n") + "\n" }
                    pending = nil
                    block = nil
                } else {
                    lines.append(line)
                    block = lines
                }
            } else if line.hasPrefix("<!-- example: "), line.hasSuffix(" -->") {
                pending = String(line.dropFirst("<!-- example: ".count).dropLast(" -->".count))
            } else if line == "```json" {
                block = []
            }
        }
        return result
    }

    @Test func documentHasEveryExample() throws {
        let examples = try Self.examples()
        #expect(
            Set(examples.keys) == [
                "node-manifest-example.json", "node-manifest-1.2-example.json",
                "cluster-snapshot-example.json", "schedule-example.json",
            ])
    }

    @Test func nodeManifestExampleMatchesFixture() throws {
        let block = try #require(try Self.examples()["node-manifest-example.json"])
        let fromDocs = try NodeManifest.decode(from: Data(block.utf8))
        let fixture = try ManifestTests.fixture("node-manifest-example.json")
        #expect(fromDocs == (try NodeManifest.decode(from: fixture)))
        #expect(Data(block.utf8) == fixture)
    }

    @Test func legacyNodeManifestExampleMatchesFixture() throws {
        let block = try #require(try Self.examples()["node-manifest-1.2-example.json"])
        let fromDocs = try NodeManifest.decode(from: Data(block.utf8))
        let fixture = try ManifestTests.fixture("node-manifest-1.2-example.json")
        #expect(fromDocs == (try NodeManifest.decode(from: fixture)))
        #expect(Data(block.utf8) == fixture)
    }

    @Test func clusterSnapshotExampleMatchesFixture() throws {
        let block = try #require(try Self.examples()["cluster-snapshot-example.json"])
        let fromDocs = try ClusterSnapshotRecord.decode(from: Data(block.utf8))
        let fixture = try ManifestTests.fixture("cluster-snapshot-example.json")
        #expect(fromDocs == (try ClusterSnapshotRecord.decode(from: fixture)))
        #expect(Data(block.utf8) == fixture)
    }

    /// The schedule document is what `Schedule` encodes, byte for byte.
    @Test func scheduleExampleIsWhatTheCodeWrites() throws {
        let text = try #require(try Self.examples()["schedule-example.json"])
        let schedule = try Schedule.decode(from: Data(text.utf8))
        #expect(schedule.name.rawValue == "nightly")
        #expect(schedule.keepLast == 14)
        #expect(String(decoding: schedule.encoded(), as: UTF8.self) == text)
    }

    /// The document's key examples must be keys the layout parses.
    @Test func documentedKeysParse() throws {
        let text = try String(contentsOf: Self.documentURL, encoding: .utf8)
        let keys = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("    prod-eu/") else { return nil }
            return String(line.dropFirst(4))
        }
        #expect(keys.count >= 6)
        for key in keys {
            let parsed = try Examples.keys.parse(key)
            #expect(Examples.keys.key(for: parsed) == key)
        }
    }
}
