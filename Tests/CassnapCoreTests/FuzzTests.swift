import Foundation
import Testing

@testable import CassnapCore

/// Thousands of random and hostile inputs from a fixed seed: nothing crashes, everything that
/// parses round-trips, and every refusal says what it refused.
@Suite("Fuzz")
struct FuzzTests {
    static let seeds: [UInt64] = [1, 0xC0FFEE, 20_240_501]
    static let iterations = 4000

    static let validNames =
        SSTableFileNameTests.valid.map(\.name) + [
            "nb-1-big-Data.db", "da-3fw2_0tu3_1y3ck2ib0zhqmj3cg1-bti-Rows.db", "ks1-users-jb-12-Data.db",
        ]
    static let alphabet = Array("abnk0123456789_-.big-bti-Data.dbIndex_txn_~/\\\0 é☃\u{202E}\n")

    static func hostileName(_ g: inout SeededGenerator) -> String {
        switch Int.random(in: 0..<10, using: &g) {
        case 0:
            return ["", ".", "..", "\0", "/", "-", "--", "----", "~", " ", "\u{FEFF}"].randomElement(
                using: &g)!
        case 1:
            return String(repeating: String(alphabet.randomElement(using: &g)!), count: 4096)
        case 2:
            let bytes = (0..<Int.random(in: 0..<64, using: &g)).map { _ in
                UInt8.random(in: 0...255, using: &g)
            }
            return String(decoding: bytes, as: UTF8.self)
        case 3:
            return String(
                (0..<Int.random(in: 0..<40, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
        case 4:
            // Shuffle the tokens of a valid name.
            var tokens = validNames.randomElement(using: &g)!.split(
                separator: "-", omittingEmptySubsequences: false)
            tokens.shuffle(using: &g)
            return tokens.joined(separator: "-")
        default:
            return mutate(validNames.randomElement(using: &g)!, &g)
        }
    }

    static func mutate(_ name: String, _ g: inout SeededGenerator) -> String {
        var characters = Array(name)
        for _ in 0..<Int.random(in: 1...3, using: &g) {
            let position = Int.random(in: 0...characters.count, using: &g)
            switch Int.random(in: 0..<4, using: &g) {
            case 0: characters.insert(alphabet.randomElement(using: &g)!, at: position)
            case 1: if position < characters.count { characters.remove(at: position) }
            case 2:
                if position < characters.count { characters[position] = alphabet.randomElement(using: &g)! }
            default: characters.insert(contentsOf: characters[position...].prefix(4), at: position)
            }
        }
        return String(characters)
    }

    static func checkMessage(_ description: String, mentions input: String, _ what: String) {
        #expect(!description.isEmpty, "\(what): empty message")
        #expect(description.contains(input.quotedForMessage), "\(what): \(description)")
        // Messages repeat at most a cut excerpt of the input, so they stay readable.
        #expect(description.count < 1200, "\(what): \(description.count) characters")
    }

    @Test(arguments: seeds)
    func sstableNames(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var parsed = 0
        for _ in 0..<Self.iterations {
            let name = Self.hostileName(&g)
            do {
                let file = try SSTableFileName.parse(name)
                parsed += 1
                #expect(file.fileName == name, "round trip of \(name.quotedForMessage)")
                #expect(try SSTableFileName.parse(file.fileName) == file)
            } catch {
                Self.checkMessage(error.description, mentions: name, "SSTable name")
            }
        }
        // The generator must reach both outcomes, or the test proves little.
        #expect(parsed > Self.iterations / 50)
        #expect(parsed < Self.iterations)
    }

    @Test(arguments: seeds)
    func dataPaths(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let prefixes = [
            "", "shop/", "shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63/",
            "shop/orders-5a1c395e78ef11eebd8a8f5e2d8b3a63/snapshots/t/", "shop/orders/backups/.idx/",
        ]
        var shipped = 0
        for _ in 0..<Self.iterations {
            let path = prefixes.randomElement(using: &g)! + Self.hostileName(&g)
            let isDirectory = Bool.random(using: &g)
            do {
                let classified = try DataPath.classify(relativePath: path, isDirectory: isDirectory)
                if classified.isShipped {
                    shipped += 1
                    // A shipped path is always safe to restore under its own relative path.
                    #expect(throws: Never.self) {
                        try RestorePath.validate(relativePath: classified.relativePath)
                    }
                }
                if case .ignored(let reason) = classified.kind { #expect(!reason.description.isEmpty) }
            } catch {
                Self.checkMessage(error.description, mentions: path, "data path")
            }
            do {
                _ = try DataPath.classify(
                    path: "/data/" + path, dataDirectories: ["/data"], isDirectory: isDirectory)
            } catch {
                Self.checkMessage(error.description, mentions: "/data/" + path, "absolute data path")
            }
        }
        #expect(shipped > 0)
    }

    @Test(arguments: seeds)
    func objectKeysAndTags(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let keys = Examples.keys
        let valid = ObjectKeysTests.layoutCases.map(\.1)
        var parsed = 0
        for _ in 0..<Self.iterations {
            let key =
                Bool.random(using: &g)
                ? Self.mutate(valid.randomElement(using: &g)!, &g) : Self.hostileName(&g)
            do {
                let object = try keys.parse(key)
                parsed += 1
                #expect(keys.key(for: object) == key, "round trip of \(key.quotedForMessage)")
            } catch {
                Self.checkMessage(error.description, mentions: key, "object key")
            }
            let tagText = Self.hostileName(&g)
            let tag: SnapshotTag
            do {
                tag = try SnapshotTag(tagText)
            } catch {
                Self.checkMessage(error.description, mentions: tagText, "snapshot tag")
                continue
            }
            #expect(!tag.rawValue.contains("/"))
            _ = SnapshotTagFilter().shouldShip(tag: tag)
            #expect(
                (try? keys.parse(keys.key(for: .clusterSnapshotRecord(tag: tag))))
                    == .clusterSnapshotRecord(tag: tag))
        }
        #expect(parsed > 0)
    }

    @Test(arguments: seeds)
    func manifestsNeverCrash(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let original = Array(Examples.nodeManifest.encoded())
        var refused = 0
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &g) {
                let position = Int.random(in: 0..<bytes.count, using: &g)
                bytes[position] = UInt8.random(in: 0...255, using: &g)
            }
            do {
                let manifest = try NodeManifest.decode(from: Data(bytes))
                // Whatever survives a mutation must still be a valid, restorable manifest.
                try manifest.validate()
            } catch {
                refused += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(refused > 0)
    }
}
