import Foundation
import Testing

@testable import CassnapCore

@Suite("Snapshot tags")
struct SnapshotTagTests {
    @Test(arguments: [
        ("nightly-2024-05-01", SnapshotTagClass.Category.user),
        ("Test snapshot", .user),
        ("1714528800000", .user),
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c8", .repair),
        ("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", .repair),
        ("6ba7b8109dad11d180b400c04fd430c8", .user),
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c8-extra", .user),
        ("truncated-1714528800000-orders", .truncated),
        ("truncated-1714528800000-", .user),
        ("truncated-abc-orders", .user),
        ("truncated-1714528800000-orders-x", .user),
        ("dropped-1714528800000-order_items", .dropped),
        ("dropped-1714528800000", .user),
        ("pre-scrub-1714528800000", .preScrub),
        ("pre-scrub-", .user),
    ])
    func classifies(tag: String, category: SnapshotTagClass.Category) throws {
        #expect(try SnapshotTag(tag).tagClass.category == category)
    }

    @Test func classesCarryTheirDetails() throws {
        #expect(
            try SnapshotTag("truncated-1714528800000-orders").tagClass
                == .truncated(millis: 1_714_528_800_000, table: "orders"))
        #expect(try SnapshotTag("dropped-5-t").tagClass == .dropped(millis: 5, table: "t"))
        #expect(try SnapshotTag("pre-scrub-42").tagClass == .preScrub(millis: 42))
        let session = UUID(uuidString: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(try SnapshotTag("6ba7b810-9dad-11d1-80b4-00c04fd430c8").tagClass == .repair(session: session))
    }

    @Test(arguments: [
        ("", "must not be empty"), (".", "escape"), ("..", "escape"), ("a/b", "\"/\""), ("a\\b", "\"\\\""),
        ("a\0b", "NUL"), ("line\nbreak", "control"), (String(repeating: "t", count: 256), "255 bytes"),
    ])
    func invalidTagsAreRefused(tag: String, reason: String) {
        #expect {
            try SnapshotTag(tag)
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == .snapshotTag && error.description.contains(reason)
                && error.description.contains(tag.quotedForMessage)
        }
    }

    // MARK: - Filter

    static func pattern(_ text: String) -> GlobPattern { try! GlobPattern(text) }

    @Test(arguments: [
        ("nightly-2024-05-01", true),
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c8", false),
        ("truncated-1714528800000-orders", false),
        ("dropped-1714528800000-orders", false),
        ("pre-scrub-1714528800000", false),
    ])
    func defaultFilterShipsOnlyUserTags(tag: String, ships: Bool) throws {
        #expect(SnapshotTagFilter().shouldShip(tag: try SnapshotTag(tag)) == ships)
    }

    @Test func rulesApplyInTheDocumentedOrder() throws {
        let filter = SnapshotTagFilter(
            ignoredCategories: [.repair, .dropped],
            include: [Self.pattern("nightly-*"), Self.pattern("dropped-*-orders")],
            exclude: [Self.pattern("nightly-*-test")])
        let cases: [(String, Bool, String)] = [
            ("nightly-2024-05-01", true, "include"),
            ("nightly-2024-05-01-test", false, "exclude"),
            ("dropped-17-orders", true, "include"),  // an explicit include beats the ignored class
            ("dropped-17-users", false, "no include"),
            ("weekly", false, "no include"),
        ]
        for (tag, ships, reason) in cases {
            let decision = filter.decision(for: try SnapshotTag(tag))
            #expect(decision.shouldShip == ships, "\(tag)")
            #expect(decision.description.contains(reason), "\(tag): \(decision)")
        }
        let classOnly = SnapshotTagFilter(ignoredCategories: [.user])
        #expect(!classOnly.shouldShip(tag: try SnapshotTag("nightly")))
        #expect(classOnly.shouldShip(tag: try SnapshotTag("truncated-1-t")))
    }

    @Test func filterDecodesFromConfigWithDefaults() throws {
        let decoder = JSONDecoder()
        let empty = try decoder.decode(SnapshotTagFilter.self, from: Data("{}".utf8))
        #expect(empty == SnapshotTagFilter())
        let custom = try decoder.decode(
            SnapshotTagFilter.self,
            from: Data(#"{"ignored_categories": ["repair", "pre-scrub"], "include": ["a*"]}"#.utf8))
        #expect(custom.ignoredCategories == [.repair, .preScrub])
        #expect(custom.include.map(\.pattern) == ["a*"])
        #expect(try decoder.decode(SnapshotTagFilter.self, from: JSONEncoder().encode(custom)) == custom)
        #expect(throws: DecodingError.self) {
            try decoder.decode(SnapshotTagFilter.self, from: Data(#"{"include": ["[abc"]}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try decoder.decode(SnapshotTagFilter.self, from: Data(#"{"ignored_categories": ["bogus"]}"#.utf8))
        }
    }

    @Test(arguments: [
        ("*", "", true), ("*", "anything", true), ("nightly-*", "nightly-1", true),
        ("nightly-*", "weekly-1", false),
        ("*-test", "a-b-test", true), ("*-test", "a-b-tests", false), ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false), ("?", "x", true), ("?", "", false), ("??", "x", false),
        ("[abc]x", "bx", true), ("[abc]x", "dx", false), ("[a-c]", "b", true), ("[!a-c]", "b", false),
        ("[^a-c]", "d", true), ("[]]", "]", true), ("[a-]", "-", true), (#"\*"#, "*", true),
        (#"\*"#, "x", false),
        ("é*", "été", true), ("*a*a*a*a*a*b", String(repeating: "a", count: 60), false),
    ])
    func globsMatch(pattern: String, text: String, matches: Bool) throws {
        #expect(try GlobPattern(pattern).matches(text) == matches)
    }

    @Test(arguments: ["", "[abc", "[z-a]", "a\\", "[!]"])
    func invalidGlobsAreRefused(pattern: String) {
        #expect {
            try GlobPattern(pattern)
        } throws: { error in
            (error as? ValidationError)?.field == .globPattern
        }
    }
}
