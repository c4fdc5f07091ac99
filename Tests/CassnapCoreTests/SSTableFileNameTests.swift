import Testing

@testable import CassnapCore

/// One real-looking name per Cassandra naming generation, with what it must parse to.
struct NameCase: Sendable, CustomTestStringConvertible {
    var name: String
    var version: String
    var generation: SSTableGeneration
    var format: SSTableFormat
    var component: SSTableComponent
    var keyspace: String? = nil
    var table: String? = nil
    var index: String? = nil
    var marker: SSTableTemporaryMarker? = nil
    var sstableName: String

    var testDescription: String { name }
}

@Suite("SSTable file names")
struct SSTableFileNameTests {
    static let uuidID = "3fw2_0tu3_1y3ck2ib0zhqmj3cg1"

    static let valid: [NameCase] = [
        // 1.1, 1.2, 2.0, 2.1: keyspace and table in the name.
        .init(
            name: "ks1-users-hf-3-Data.db", version: "hf", generation: .sequence(3), format: .legacy,
            component: .data, keyspace: "ks1", table: "users", sstableName: "ks1-users-hf-3"),
        .init(
            name: "ks1-users-ic-5-Index.db", version: "ic", generation: .sequence(5), format: .legacy,
            component: .primaryIndex, keyspace: "ks1", table: "users", sstableName: "ks1-users-ic-5"),
        .init(
            name: "ks1-users-jb-12-Data.db", version: "jb", generation: .sequence(12), format: .legacy,
            component: .data, keyspace: "ks1", table: "users", sstableName: "ks1-users-jb-12"),
        .init(
            name: "ks1-users-jb-12-Digest.sha1", version: "jb", generation: .sequence(12), format: .legacy,
            component: .digestSHA1, keyspace: "ks1", table: "users", sstableName: "ks1-users-jb-12"),
        .init(
            name: "OpsCenter-rollups60-ka-2041-Statistics.db", version: "ka", generation: .sequence(2041),
            format: .legacy, component: .statistics, keyspace: "OpsCenter", table: "rollups60",
            sstableName: "OpsCenter-rollups60-ka-2041"),
        .init(
            name: "ks1-users-ka-7-Digest.adler32", version: "ka", generation: .sequence(7), format: .legacy,
            component: .digestAdler32, keyspace: "ks1", table: "users", sstableName: "ks1-users-ka-7"),
        .init(
            name: "ks1-users.users_email_idx-jb-4-Filter.db", version: "jb", generation: .sequence(4),
            format: .legacy, component: .filter, keyspace: "ks1", table: "users", index: "users_email_idx",
            sstableName: "ks1-users.users_email_idx-jb-4"),
        .init(
            name: "ks-cf-tmp-jb-3-Data.db", version: "jb", generation: .sequence(3), format: .legacy,
            component: .data, keyspace: "ks", table: "cf", marker: .tmp, sstableName: "ks-cf-tmp-jb-3"),
        .init(
            name: "ks-cf-tmplink-ka-3-Data.db", version: "ka", generation: .sequence(3), format: .legacy,
            component: .data, keyspace: "ks", table: "cf", marker: .tmplink, sstableName: "ks-cf-tmplink-ka-3"
        ),
        // A keyspace named "tmp" is not a marker: the generation token is numeric.
        .init(
            name: "tmp-cf-jb-3-Data.db", version: "jb", generation: .sequence(3), format: .legacy,
            component: .data, keyspace: "tmp", table: "cf", sstableName: "tmp-cf-jb-3"),
        // 2.2 – 5.0 big format.
        .init(
            name: "la-1-big-Data.db", version: "la", generation: .sequence(1), format: .big, component: .data,
            sstableName: "la-1-big"),
        .init(
            name: "tmp-la-2-big-Data.db", version: "la", generation: .sequence(2), format: .big,
            component: .data,
            marker: .tmp, sstableName: "tmp-la-2-big"),
        .init(
            name: "tmplink-la-2-big-Index.db", version: "la", generation: .sequence(2), format: .big,
            component: .primaryIndex, marker: .tmplink, sstableName: "tmplink-la-2-big"),
        .init(
            name: "lb-4-big-CompressionInfo.db", version: "lb", generation: .sequence(4), format: .big,
            component: .compressionInfo, sstableName: "lb-4-big"),
        .init(
            name: "ma-9-big-Summary.db", version: "ma", generation: .sequence(9), format: .big,
            component: .summary,
            sstableName: "ma-9-big"),
        .init(
            name: "mb-11-big-Filter.db", version: "mb", generation: .sequence(11), format: .big,
            component: .filter,
            sstableName: "mb-11-big"),
        .init(
            name: "mc-23-big-TOC.txt", version: "mc", generation: .sequence(23), format: .big,
            component: .tableOfContents, sstableName: "mc-23-big"),
        .init(
            name: "md-5-big-Digest.crc32", version: "md", generation: .sequence(5), format: .big,
            component: .digestCRC32, sstableName: "md-5-big"),
        .init(
            name: "me-8-big-CRC.db", version: "me", generation: .sequence(8), format: .big, component: .crc,
            sstableName: "me-8-big"),
        .init(
            name: "na-2-big-Statistics.db", version: "na", generation: .sequence(2), format: .big,
            component: .statistics, sstableName: "na-2-big"),
        .init(
            name: "nb-42-big-Data.db", version: "nb", generation: .sequence(42), format: .big,
            component: .data,
            sstableName: "nb-42-big"),
        .init(
            name: "nc-17-big-Index.db", version: "nc", generation: .sequence(17), format: .big,
            component: .primaryIndex, sstableName: "nc-17-big"),
        .init(
            name: "oa-3-big-Data.db", version: "oa", generation: .sequence(3), format: .big, component: .data,
            sstableName: "oa-3-big"),
        .init(
            name: "nb-2147483648-big-Data.db", version: "nb", generation: .sequence(2_147_483_648),
            format: .big,
            component: .data, sstableName: "nb-2147483648-big"),
        // 4.1+ time-ordered ids.
        .init(
            name: "nb-\(uuidID)-big-Data.db", version: "nb", generation: .uuidBased(uuidID), format: .big,
            component: .data, sstableName: "nb-\(uuidID)-big"),
        .init(
            name: "oa-3fw2_0tj4_46w3k2cpidnirvjy7k-big-TOC.txt", version: "oa",
            generation: .uuidBased("3fw2_0tj4_46w3k2cpidnirvjy7k"), format: .big, component: .tableOfContents,
            sstableName: "oa-3fw2_0tj4_46w3k2cpidnirvjy7k-big"),
        // 5.0 BTI.
        .init(
            name: "da-1-bti-Partitions.db", version: "da", generation: .sequence(1), format: .bti,
            component: .partitions, sstableName: "da-1-bti"),
        .init(
            name: "da-1-bti-Rows.db", version: "da", generation: .sequence(1), format: .bti, component: .rows,
            sstableName: "da-1-bti"),
        .init(
            name: "da-\(uuidID)-bti-Data.db", version: "da", generation: .uuidBased(uuidID), format: .bti,
            component: .data, sstableName: "da-\(uuidID)-bti"),
    ]

    @Test(arguments: valid)
    func parsesEveryGeneration(_ expected: NameCase) throws {
        let parsed = try SSTableFileName.parse(expected.name)
        let descriptor = parsed.descriptor
        #expect(descriptor.version == expected.version)
        #expect(descriptor.generation == expected.generation)
        #expect(descriptor.format == expected.format)
        #expect(parsed.component == expected.component)
        #expect(descriptor.keyspace == expected.keyspace)
        #expect(descriptor.table == expected.table)
        #expect(descriptor.indexName == expected.index)
        #expect(descriptor.temporaryMarker == expected.marker)
        #expect(descriptor.isTemporary == (expected.marker != nil))
        #expect(parsed.sstableName == expected.sstableName)
        #expect(parsed.fileName == expected.name)
    }

    @Test(arguments: SSTableComponent.allCases)
    func everyComponentRoundTripsInEveryFormatThatHasIt(_ component: SSTableComponent) throws {
        let names = [
            "ks1-users-jb-12-\(component.rawValue)", "nb-42-big-\(component.rawValue)",
            "da-\(Self.uuidID)-bti-\(component.rawValue)",
        ]
        var accepted = 0
        for name in names {
            do {
                let parsed = try SSTableFileName.parse(name)
                #expect(parsed.component == component)
                #expect(parsed.fileName == name)
                #expect(component.belongs(to: parsed.descriptor.format))
                accepted += 1
            } catch {
                guard case .componentNotInFormat(component, let format, name) = error else {
                    Issue.record("\(name): unexpected \(error)")
                    continue
                }
                #expect(!component.belongs(to: format))
            }
        }
        // Index/Summary are not in BTI; Partitions/Rows only in BTI; everything else everywhere.
        let expected =
            [.primaryIndex, .summary].contains(component)
            ? 2 : [.partitions, .rows].contains(component) ? 1 : 3
        #expect(accepted == expected)
    }

    @Test func descriptorsOfOneSSTableGroupTheirComponents() throws {
        let data = try SSTableFileName.parse("nb-42-big-Data.db")
        let index = try SSTableFileName.parse("nb-42-big-Index.db")
        let other = try SSTableFileName.parse("nb-43-big-Data.db")
        #expect(data.descriptor == index.descriptor)
        #expect(data.descriptor != other.descriptor)
        #expect(data.descriptor.fileName(for: .filter) == "nb-42-big-Filter.db")
    }

    static let invalid: [(String, SSTableNameError)] = [
        ("", .empty),
        ("nb-1-big-Foo.db", .unknownComponent(component: "Foo.db", name: "nb-1-big-Foo.db")),
        ("nb-1-big-Data.db.tmp", .unknownComponent(component: "Data.db.tmp", name: "nb-1-big-Data.db.tmp")),
        ("nb-1-big-data.db", .unknownComponent(component: "data.db", name: "nb-1-big-data.db")),
        ("ks-cf-jb-1-Compacted", .unknownComponent(component: "Compacted", name: "ks-cf-jb-1-Compacted")),
        ("nb-1-trie-Data.db", .unknownFormat(format: "trie", name: "nb-1-trie-Data.db")),
        ("nb-1-legacy-Data.db", .unknownFormat(format: "legacy", name: "nb-1-legacy-Data.db")),
        ("n1-1-big-Data.db", .invalidVersion(version: "n1", name: "n1-1-big-Data.db")),
        ("nbb-1-big-Data.db", .invalidVersion(version: "nbb", name: "nbb-1-big-Data.db")),
        ("NB-1-big-Data.db", .invalidVersion(version: "NB", name: "NB-1-big-Data.db")),
        (
            "nb-01-big-Data.db",
            .invalidGeneration(generation: "01", name: "nb-01-big-Data.db", reason: "has a leading zero")
        ),
        (
            "nb-99999999999999999999-big-Data.db",
            .invalidGeneration(
                generation: "99999999999999999999", name: "nb-99999999999999999999-big-Data.db",
                reason: "does not fit in 64 bits")
        ),
        (
            "nb--big-Data.db",
            .invalidGeneration(generation: "", name: "nb--big-Data.db", reason: "is empty")
        ),
        (
            "nb-x1-big-Data.db",
            .invalidGeneration(
                generation: "x1", name: "nb-x1-big-Data.db",
                reason: "is neither an integer nor a 28-character time-ordered id")
        ),
        (
            "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cg-big-Data.db",
            .invalidGeneration(
                generation: "3fw2_0tu3_1y3ck2ib0zhqmj3cg", name: "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cg-big-Data.db",
                reason: "has 27 characters, but a time-ordered id has 28")
        ),
        (
            "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cG1-big-Data.db",
            .invalidGeneration(
                generation: "3fw2_0tu3_1y3ck2ib0zhqmj3cG1",
                name: "nb-3fw2_0tu3_1y3ck2ib0zhqmj3cG1-big-Data.db",
                reason: "has characters other than lowercase base-36 digits between its \"_\"")
        ),
        (
            "nb-3fw20tu3_1_y3ck2ib0zhqmj3cg1-big-Data.db",
            .invalidGeneration(
                generation: "3fw20tu3_1_y3ck2ib0zhqmj3cg1",
                name: "nb-3fw20tu3_1_y3ck2ib0zhqmj3cg1-big-Data.db",
                reason: "lacks the \"_\" at positions 5 and 10 of a time-ordered id")
        ),
        (
            "ks-cf-jb-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-Data.db",
            .invalidGeneration(
                generation: "3fw2_0tu3_1y3ck2ib0zhqmj3cg1",
                name: "ks-cf-jb-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-Data.db",
                reason: "is a time-ordered id, but legacy names only have integer generations")
        ),
        (
            "nb-1-big-Partitions.db",
            .componentNotInFormat(component: .partitions, format: .big, name: "nb-1-big-Partitions.db")
        ),
        (
            "da-1-bti-Index.db",
            .componentNotInFormat(component: .primaryIndex, format: .bti, name: "da-1-bti-Index.db")
        ),
        (
            "da-1-bti-Summary.db",
            .componentNotInFormat(component: .summary, format: .bti, name: "da-1-bti-Summary.db")
        ),
        (
            "ks-cf-jb-1-Rows.db",
            .componentNotInFormat(component: .rows, format: .legacy, name: "ks-cf-jb-1-Rows.db")
        ),
        (
            "k$-cf-jb-1-Data.db",
            .invalidLegacyName(field: "keyspace", value: "k$", name: "k$-cf-jb-1-Data.db")
        ),
        (
            "ks-c.f.g-jb-1-Data.db",
            .invalidLegacyName(field: "table", value: "c.f.g", name: "ks-c.f.g-jb-1-Data.db")
        ),
        (
            "ks-cf.-jb-1-Data.db",
            .invalidLegacyName(field: "table", value: "cf.", name: "ks-cf.-jb-1-Data.db")
        ),
        ("ks-cf-foo-jb-1-Data.db", .unrecognizedShape(name: "ks-cf-foo-jb-1-Data.db")),
        ("Data.db", .unrecognizedShape(name: "Data.db")),
        ("nb-1-Data.db", .unrecognizedShape(name: "nb-1-Data.db")),
        (
            "nb_txn_compaction_8e8a9b60-2d0d-11ef-9a7d-5d4c1f0e6a21.log",
            .invalidVersion(
                version: "11ef", name: "nb_txn_compaction_8e8a9b60-2d0d-11ef-9a7d-5d4c1f0e6a21.log")
        ),
        ("a/nb-1-big-Data.db", .notAFileName(name: "a/nb-1-big-Data.db", reason: "contains \"/\"")),
        ("nb-1-big-Data.db\0", .notAFileName(name: "nb-1-big-Data.db\0", reason: "contains a NUL character")),
        (
            String(repeating: "a", count: 300),
            .notAFileName(name: String(repeating: "a", count: 300), reason: "longer than 255 bytes")
        ),
    ]

    @Test(arguments: 0..<invalid.count)
    func rejectsWithAPreciseError(index: Int) {
        let (name, expected) = Self.invalid[index]
        #expect(throws: expected) { try SSTableFileName.parse(name) }
        #expect(expected.description.contains(name.quotedForMessage))
    }

    @Test func unknownComponentMessageNamesTheComponentAndTheKnownOnes() {
        let error = SSTableNameError.unknownComponent(
            component: "SAI+aa+Meta.db", name: "da-1-bti-SAI+aa+Meta.db")
        #expect(error.description.contains("\"SAI+aa+Meta.db\""))
        #expect(error.description.contains("Partitions.db"))
        #expect(error.description.contains("\"da-1-bti-SAI+aa+Meta.db\""))
    }

    @Test func longNamesAreCutInMessages() {
        let name = String(repeating: "x", count: 4096)
        #expect(throws: SSTableNameError.self) { try SSTableFileName.parse(name) }
        let description = SSTableNameError.notAFileName(name: name, reason: "r").description
        #expect(description.count < 250)
        #expect(description.contains("(4096 bytes)"))
    }

    @Test(arguments: [
        ("plain", "\"plain\""),
        ("quote\"and\\", #""quote\"and\\""#),
        ("nul\0newline\n", #""nul\0newline\n""#),
        ("bidi\u{202E}txt", #""bidi\u{202E}txt""#),
        ("bell\u{07}", #""bell\u{7}""#),
        ("café", "\"café\""),
    ])
    func messagesEscapeInvisibleCharacters(raw: String, rendered: String) {
        #expect(raw.quotedForMessage == rendered)
    }
}
