import Foundation
import Testing

@testable import CassnapCore

@Suite("Manifests")
struct ManifestTests {
    static func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try Data(contentsOf: url)
    }

    @Test func nodeManifestFixtureDecodesToTheExample() throws {
        let data = try Self.fixture("node-manifest-example.json")
        let manifest = try NodeManifest.decode(from: data)
        #expect(manifest == Examples.nodeManifest)
        #expect(manifest.allFiles.count == 20)
        #expect(manifest.tables[0].sstables[1].index == "orders_by_customer")
        #expect(
            manifest.tables[0].opaqueFiles.map(\.fileName) == [
                "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-big-SI_orders_by_note.db"
            ])
    }

    @Test func legacyNodeManifestFixtureDecodesToTheExample() throws {
        let manifest = try NodeManifest.decode(from: try Self.fixture("node-manifest-1.2-example.json"))
        #expect(manifest == Examples.legacyNodeManifest)
        #expect(manifest.allFiles.map(\.fileName).contains("events.json"))
        #expect(Examples.legacyNodeManifest.encoded() == (try Self.fixture("node-manifest-1.2-example.json")))
    }

    /// A 1.0 manifest (written before opaque files) still decodes, has none, and encodes to the
    /// same bytes, so rewriting an old manifest changes nothing.
    @Test func formatOneZeroManifestsStillDecode() throws {
        let data = try Self.fixture("node-manifest-1.0.json")
        #expect(!String(decoding: data, as: UTF8.self).contains("opaqueFiles"))
        let manifest = try NodeManifest.decode(from: data)
        #expect(manifest.formatVersion == FormatVersion(major: 1, minor: 0))
        #expect(manifest.tables.allSatisfy { $0.opaqueFiles.isEmpty })
        #expect(manifest.allFiles.count == 20)
        #expect(manifest.encoded() == data)
    }

    /// 1.2: a node snapshot says so; a cluster snapshot's manifest leaves `origin` out, so it
    /// has the bytes it had in 1.1 apart from the version, and older manifests read as `cluster`.
    @Test func originIsWrittenOnlyForNodeSnapshots() throws {
        #expect(Examples.nodeManifest.origin == .cluster)
        #expect(!String(decoding: Examples.nodeManifest.encoded(), as: UTF8.self).contains("origin"))
        var node = Examples.nodeManifest
        node.origin = .node
        let data = node.encoded()
        #expect(String(decoding: data, as: UTF8.self).contains(#""origin" : "node""#))
        #expect(try NodeManifest.decode(from: data) == node)
        #expect(try NodeManifest.decode(from: try Self.fixture("node-manifest-1.0.json")).origin == .cluster)
        let bad = String(decoding: data, as: UTF8.self).replacingOccurrences(
            of: #""origin" : "node""#, with: #""origin" : "cron""#)
        #expect(throws: ManifestError.self) { try NodeManifest.decode(from: Data(bad.utf8)) }
    }

    @Test func clusterSnapshotFixtureDecodesToTheExample() throws {
        let data = try Self.fixture("cluster-snapshot-example.json")
        let record = try ClusterSnapshotRecord.decode(from: data)
        #expect(record == Examples.clusterSnapshot)
        let spread = try #require(record.spread)
        #expect(abs(spread - 0.035) < 0.000_001)
    }

    /// Sorted keys and fixed instants: the same content always has the same bytes.
    @Test func encodingIsCanonical() throws {
        #expect(Examples.nodeManifest.encoded() == (try Self.fixture("node-manifest-example.json")))
        #expect(Examples.clusterSnapshot.encoded() == (try Self.fixture("cluster-snapshot-example.json")))
    }

    @Test func roundTripsKeepEveryField() throws {
        var manifest = Examples.nodeManifest
        manifest.tables[0].tableID = nil
        manifest.tables[0].sstables[0].files.removeLast()
        manifest.takenAt = InstantFormat.normalized(Date(timeIntervalSince1970: 1_234_567_890.5))
        #expect(try NodeManifest.decode(from: manifest.encoded()) == manifest)

        var record = Examples.clusterSnapshot
        record.deadline = nil
        record.tables = ["shop.orders"]
        record.status = .pending
        #expect(try ClusterSnapshotRecord.decode(from: record.encoded()) == record)
    }

    // MARK: - Format versions

    static func replacingVersion(in data: Data, with version: String) -> Data {
        let text = String(decoding: data, as: UTF8.self)
        return Data(
            text.replacingOccurrences(
                of: #""formatVersion" : "1\.[012]""#, with: "\"formatVersion\" : \(version)",
                options: .regularExpression
            ).utf8)
    }

    @Test(arguments: ["\"2.0\"", "\"17.3\""])
    func futureMajorVersionsAreRefused(version: String) throws {
        let node = Self.replacingVersion(in: try Self.fixture("node-manifest-example.json"), with: version)
        #expect(throws: ManifestError.self) { try NodeManifest.decode(from: node) }
        do {
            _ = try NodeManifest.decode(from: node)
        } catch {
            guard case .unsupportedFormatVersion(let document, let found, 1) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(document == "node manifest")
            #expect(found.major > 1)
            #expect(error.description.contains("upgrade cassnap"))
            #expect(error.description.contains(found.description))
        }
        let record = Self.replacingVersion(
            in: try Self.fixture("cluster-snapshot-example.json"), with: version)
        #expect {
            try ClusterSnapshotRecord.decode(from: record)
        } throws: { error in
            guard case .unsupportedFormatVersion(let document, _, 1) = error as? ManifestError else {
                return false
            }
            return document == "cluster snapshot record"
        }
    }

    @Test func aFutureMajorVersionIsReportedEvenIfTheShapeChanged() throws {
        let data = Data(#"{"formatVersion": "2.0", "somethingNew": []}"#.utf8)
        #expect(
            throws: ManifestError.unsupportedFormatVersion(
                document: "node manifest", found: FormatVersion(major: 2, minor: 0), supportedMajor: 1)
        ) { try NodeManifest.decode(from: data) }
    }

    @Test func olderMajorVersionsAreRefusedToo() throws {
        let data = Self.replacingVersion(in: try Self.fixture("node-manifest-example.json"), with: "\"0.9\"")
        #expect {
            try NodeManifest.decode(from: data)
        } throws: { error in
            (error as? ManifestError)?.description.contains("not written by cassnap") == true
        }
    }

    @Test func newerMinorVersionsWithExtraFieldsAreRead() throws {
        var text = String(decoding: try Self.fixture("node-manifest-example.json"), as: UTF8.self)
        text = text.replacingOccurrences(
            of: "\"formatVersion\" : \"1.2\"", with: "\"formatVersion\" : \"1.7\"")
        text = text.replacingOccurrences(
            of: "\"tag\" :", with: "\"addedInOneSeven\" : {\"x\": 1},\n  \"tag\" :")
        let manifest = try NodeManifest.decode(from: Data(text.utf8))
        #expect(manifest.formatVersion == FormatVersion(major: 1, minor: 7))
        #expect(manifest.tables == Examples.nodeManifest.tables)
    }

    @Test(arguments: ["1", "\"1\"", "\"v1.0\"", "\"1.0.0\"", "\"\"", "null"])
    func malformedVersionsAreRefused(version: String) throws {
        let data = Self.replacingVersion(in: try Self.fixture("node-manifest-example.json"), with: version)
        #expect {
            try NodeManifest.decode(from: data)
        } throws: { error in
            guard case .malformed(_, let detail) = error as? ManifestError else { return false }
            return detail.contains("formatVersion")
        }
    }

    // MARK: - Corrupt manifests

    @Test func missingFieldsAreNamedWithTheirPath() throws {
        var text = String(decoding: try Self.fixture("node-manifest-example.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"size\" : 161", with: "\"sighs\" : 161")
        #expect(
            throws: ManifestError.malformed(
                document: "node manifest", detail: "missing field \"size\" in nodeFiles[0]")
        ) {
            try NodeManifest.decode(from: Data(text.utf8))
        }
    }

    @Test(arguments: [
        ("", "top level"),
        ("[]", "top level"),
        (#"{"formatVersion":"1.0"}"#, "cluster"),
    ])
    func nonManifestsAreMalformed(text: String, mentioned: String) {
        #expect {
            try NodeManifest.decode(from: Data(text.utf8))
        } throws: { error in
            guard case .malformed(_, let detail) = error as? ManifestError else { return false }
            return detail.contains(mentioned)
        }
    }

    static let corruptions: [(String, String, String)] = [
        (
            "\"fileName\" : \"nb-7-big-TOC.txt\"", "\"fileName\" : \"../../etc/cron.d/x\"",
            "tables[0].sstables[1].files[7]"
        ),
        (
            "\"fileName\" : \"tokens.json\",\n      \"objectKey\" : \"prod-eu",
            "\"fileName\" : \"passwd\",\n      \"objectKey\" : \"prod-eu", "nodeFiles[0]"
        ),
        ("\"size\" : 92", "\"size\" : -92", "is negative"),
        ("\"name\" : \"nb-7-big\"", "\"name\" : \"nb-8-big\"", "is not a component of"),
        ("\"keyspace\" : \"shop\"", "\"keyspace\" : \"shop/../x\"", "invalid keyspace name"),
        ("\"index\" : \"orders_by_customer\"", "\"index\" : \"..\"", "invalid secondary index name"),
        (
            "\"objectKey\" : \"prod-eu/nodes/6f1c2a4e-0c3b-4c1e-9d27-3a5b8e2f41c7/snapshots/nightly-2024-05-01/tokens.json\"",
            "\"objectKey\" : \"/etc/tokens.json\"", "is absolute"
        ),
        ("\"fileName\" : \"nb-7-big-Data.db\"", "\"fileName\" : \"nb-7-big-TOC.txt\"", "listed twice"),
    ]

    @Test(arguments: 0..<corruptions.count)
    func corruptContentIsRefusedWithTheReason(index: Int) throws {
        let (original, replacement, mentioned) = Self.corruptions[index]
        let text = String(decoding: try Self.fixture("node-manifest-example.json"), as: UTF8.self)
        #expect(text.contains(original))
        let corrupt = Data(text.replacingOccurrences(of: original, with: replacement).utf8)
        #expect {
            try NodeManifest.decode(from: corrupt)
        } throws: { error in
            guard case .invalidContent(_, let detail) = error as? ManifestError else { return false }
            return detail.contains(mentioned)
        }
    }

    @Test func completeNodesWithoutManifestKeyAreRefused() throws {
        var record = Examples.clusterSnapshot
        record.nodes[0].manifestKey = nil
        #expect(throws: ManifestError.self) { try ClusterSnapshotRecord.decode(from: record.encoded()) }
        record = Examples.clusterSnapshot
        record.nodes[1].hostID = record.nodes[0].hostID
        #expect(throws: ManifestError.self) { try ClusterSnapshotRecord.decode(from: record.encoded()) }
        record = Examples.clusterSnapshot
        record.tables = ["orders"]
        #expect(throws: ManifestError.self) { try ClusterSnapshotRecord.decode(from: record.encoded()) }
    }

    // MARK: - Cluster snapshot status

    static func nodes(_ statuses: [ClusterSnapshotRecord.NodeStatus]) -> [ClusterSnapshotRecord.NodeEntry] {
        statuses.map { .init(hostID: HostID(UUID()), status: $0) }
    }

    @Test(
        arguments: [
            ([.complete, .complete], false, .complete),
            ([.complete, .complete], true, .complete),
            ([.complete, .pending], false, .pending),
            ([.complete, .pending], true, .partial),
            ([.complete, .failed], false, .partial),
            ([.pending, .failed], false, .pending),
            ([.pending, .failed], true, .failed),
            ([.failed, .failed], false, .failed),
            ([], true, .failed),
        ] as [([ClusterSnapshotRecord.NodeStatus], Bool, ClusterSnapshotRecord.Status)])
    func statusFollowsTheDesign(
        nodes: [ClusterSnapshotRecord.NodeStatus], deadlinePassed: Bool,
        expected: ClusterSnapshotRecord.Status
    ) {
        #expect(
            ClusterSnapshotRecord.status(of: Self.nodes(nodes), deadlinePassed: deadlinePassed) == expected)
    }

    // MARK: - Instants

    @Test(
        arguments: [
            ("2024-05-01T02:00:00.012Z", 1_714_528_800_012),
            ("2024-05-01T02:00:00Z", 1_714_528_800_000),
            ("2024-05-01T04:00:00.5+02:00", 1_714_528_800_500),
            ("2024-04-30T21:30:00.123456789-04:30", 1_714_528_800_123),
            ("1970-01-01T00:00:00.000Z", 0),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2000-02-29T00:00:00.000Z", 951_782_400_000),
        ] as [(String, Int64)])
    func instantsParse(text: String, millis: Int64) throws {
        let date = try #require(InstantFormat.parse(text))
        #expect(date == Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    @Test(arguments: [
        "", "2024-05-01", "2024-05-01T02:00:00", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2024-05-01T24:00:00Z", "2024-05-01T02:00:00.Z", "2024-05-01T02:00:00.1x", "2024-05-01 02:00:00Z",
        "2024-05-01T02:00:00+0200", "2024-05-01T02:00:00Zjunk",
    ])
    func badInstantsAreRefused(text: String) {
        #expect(InstantFormat.parse(text) == nil)
    }

    @Test func instantsFormatWithMillisecondsAndRoundTrip() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            let millis = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &generator)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let text = InstantFormat.format(date)
            #expect(text.count == 24 && text.hasSuffix("Z"), "\(text)")
            #expect(InstantFormat.parse(text) == date, "\(text)")
        }
        #expect(
            InstantFormat.format(Date(timeIntervalSince1970: 1_714_528_800.123)) == "2024-05-01T02:00:00.123Z"
        )
        #expect(
            InstantFormat.format(Date(timeIntervalSince1970: 1_714_528_800.0006))
                == "2024-05-01T02:00:00.001Z")
    }
}
