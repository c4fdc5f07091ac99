import Foundation
import Testing

@testable import CassnapTestSupport

@Suite("CassandraDataBuilder")
struct CassandraDataBuilderTests {
    @Test("what is on disk is exactly what the description says")
    func diskMatchesDescription() throws {
        try withNode({
            $0.keyspaces = 2
            $0.tablesPerKeyspace = 3
            $0.sstablesPerTable = 4
            $0.secondaryIndexesPerTable = 1
            $0.systemKeyspaces = true
        }) { node in
            let data = node.dataDirectories[0]
            let described = Set(node.files.map { String($0.url.path.dropFirst(data.path.count + 1)) })
            #expect(regularFiles(under: data) == described)
            #expect(node.files.count == (6 * 4 * 2 + 16 * 2) * 8)
            for file in node.files {
                #expect(fileStatus(file.url).map { Int($0.st_size) } == file.size, "\(file.name)")
            }
            for table in node.tables {
                #expect(table.id.count == 32 && table.id.allSatisfy { $0.isHexDigit })
                #expect(table.directory.lastPathComponent == "\(table.name)-\(table.id)")
                #expect(table.directory.deletingLastPathComponent().lastPathComponent == table.keyspace)
                #expect(exists(table.directory.appendingPathComponent("backups")))
            }
            #expect(
                Set(node.tables.map(\.keyspace)).isSuperset(of: ["ks0", "ks1", "system", "system_schema"]))
            #expect(
                node.siblingDirectories.map(\.lastPathComponent) == ["commitlog", "saved_caches", "hints"])
            for directory in node.siblingDirectories { #expect(exists(directory)) }
            let index = try #require(node.table("ks0", "t1")?.indexes.first)
            #expect(index.name == "t1_idx0")
            #expect(index.sstables.first?.directory.lastPathComponent == ".t1_idx0")
        }
    }

    @Test("Digest.crc32 holds the CRC32 of Data.db and TOC.txt lists the components")
    func digestAndTOC() throws {
        try withNode({ $0.sstablesPerTable = 2 }) { node in
            for sstable in node.sstables {
                let digest = try readText(
                    sstable.directory.appendingPathComponent(sstable.prefix + "Digest.crc32"))
                #expect(digest == String(try crc32(of: sstable.dataFile.url)))
                let toc = try readText(sstable.directory.appendingPathComponent(sstable.prefix + "TOC.txt"))
                #expect(
                    Set(toc.split(separator: "\n").map(String.init)) == Set(sstable.files.map(\.component)))
                #expect(sstable.files.count == 8)
            }
        }
    }

    @Test("CRC32 matches the zlib check values")
    func crc32Vectors() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        // Slicing-by-8 against the bitwise definition, at every alignment and tail length.
        var rng = SeededGenerator(seed: 1)
        let bytes = rng.bytes(1031)
        for length in [0, 1, 7, 8, 9, 63, 1031] {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes.prefix(length) {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            #expect(CRC32.checksum(bytes.prefix(length)) == c ^ 0xFFFF_FFFF, "length \(length)")
        }
    }

    @Test("the same seed gives the same node; another seed a different one")
    func deterministic() throws {
        let first = try withNode({ $0.seed = 7 }) { node in
            try node.sstables.map {
                [
                    $0.prefix, $0.directory.path.components(separatedBy: "/data/")[1],
                    String(try crc32(of: $0.dataFile.url)),
                ]
            }
        }
        let again = try withNode({ $0.seed = 7 }) { node in
            try node.sstables.map {
                [
                    $0.prefix, $0.directory.path.components(separatedBy: "/data/")[1],
                    String(try crc32(of: $0.dataFile.url)),
                ]
            }
        }
        let other = try withNode({ $0.seed = 8 }) { node in node.tables.map(\.id) }
        #expect(first == again)
        #expect(!first.isEmpty)
        let firstIDs = first.map { $0[1] }
        #expect(other.allSatisfy { id in !firstIDs.contains { $0.contains(id) } })
    }

    @Test("each format writes its own components and names", arguments: SSTableFixture.Format.allCases)
    func formats(_ format: SSTableFixture.Format) throws {
        try withNode({
            $0.format = format
            $0.keyspaces = 1
            $0.tablesPerKeyspace = 1
            $0.sstablesPerTable = 2
        }) { node in
            let sstable = try #require(node.sstables.first)
            let fileNames = Set(sstable.files.map(\.name))
            let expected = Set(node.sstables.flatMap(\.fileNames))
            #expect(names(in: sstable.directory).subtracting(["backups"]) == expected)
            switch format {
            case .ka:
                #expect(sstable.prefix == "ks0-t0-ka-1-")
                #expect(fileNames.contains("ks0-t0-ka-1-Digest.sha1"))
                let digest = try readText(sstable.directory.appendingPathComponent("ks0-t0-ka-1-Digest.sha1"))
                #expect(digest.hasSuffix("  ks0-t0-ka-1-Data.db"))
                #expect(digest.prefix(40).allSatisfy { $0.isHexDigit })
            case .ic:
                #expect(sstable.prefix == "ks0-t0-ic-1-")
                #expect(sstable.directory.lastPathComponent == "t0")
                #expect(fileNames.contains("ks0-t0-ic-1-Digest.sha1"))
            case .da:
                #expect(sstable.prefix == "da-1-bti-")
                #expect(
                    fileNames.contains("da-1-bti-Partitions.db") && fileNames.contains("da-1-bti-Rows.db"))
                #expect(
                    !fileNames.contains("da-1-bti-Index.db") && !fileNames.contains("da-1-bti-Summary.db"))
            case .me, .nb, .oa:
                #expect(sstable.prefix == "\(format.rawValue)-1-big-")
                #expect(fileNames.contains("\(format.rawValue)-1-big-Index.db"))
                #expect(fileNames.contains("\(format.rawValue)-1-big-Summary.db"))
            }
            #expect(sstable.files.count == 8)
        }
    }

    @Test("SHA-1 matches the FIPS 180 vectors")
    func sha1Vectors() {
        func sha1(_ text: String) -> String {
            var hash = SHA1()
            Array(text.utf8).withUnsafeBytes { hash.update($0) }
            return hash.finalize()
        }
        #expect(sha1("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(sha1("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(
            sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    @Test("uncompressed tables get CRC.db instead of CompressionInfo.db")
    func uncompressed() throws {
        try withNode({ $0.compressed = false }) { node in
            for sstable in node.sstables {
                let components = Set(sstable.files.map(\.component))
                #expect(components.contains("CRC.db") && !components.contains("CompressionInfo.db"))
            }
        }
    }

    @Test("time-UUID ids have Cassandra's 28-character form and sort by creation")
    func timeUUIDIdentifiers() throws {
        try withNode({
            $0.identifiers = .timeUUID
            $0.sstablesPerTable = 4
        }) { node in
            let table = try #require(node.table("ks0", "t0"))
            let ids = table.sstables.map(\.id)
            for id in ids {
                #expect(id.count == 28)
                #expect(Array(id)[4] == "_" && Array(id)[9] == "_")
                #expect(CassandraNaming.parse("nb-\(id)-big-Data.db")?.id == id)
            }
            #expect(ids == ids.sorted())
            #expect(Set(ids).count == ids.count)
        }
        // 1970-01-01T00:00:00Z is 141,427 days after the UUID epoch: "314j" in base 36.
        let id = CassandraNaming.timeUUIDIdentifier(
            date: Date(timeIntervalSince1970: 0), leastSignificantBits: 35)
        #expect(id == "314j_0000_00000000000000000z")
    }

    @Test("JBOD: one table directory per data directory, SSTables round-robin")
    func jbod() throws {
        try withNode({
            $0.dataDirectoryCount = 3
            $0.sstablesPerTable = 6
        }) { node in
            #expect(node.dataDirectories.map(\.lastPathComponent) == ["data1", "data2", "data3"])
            for table in node.tables {
                #expect(table.directories.count == 3)
                for (position, directory) in table.directories.enumerated() {
                    #expect(directory.path.hasPrefix(node.dataDirectories[position].path + "/"))
                    let generations = table.sstables.filter { $0.directory == directory }.compactMap(
                        \.generation)
                    #expect(generations == [position + 1, position + 4])
                }
            }
        }
    }

    @Test("backups links, host ID and incremental-backup marker")
    func backupsAndMarkers() throws {
        let hostID = UUID()
        try withNode({
            $0.linkIntoBackups = true
            $0.incrementalBackups = true
            $0.hostID = hostID
        }) { node in
            for sstable in node.sstables {
                for file in sstable.files {
                    let backup = sstable.directory.appendingPathComponent("backups").appendingPathComponent(
                        file.name)
                    #expect(inode(backup) == inode(file.url))
                    #expect(linkCount(file.url) == 2)
                }
            }
            let storedHostID = try node.nodetool().hostID()
            #expect(storedHostID == hostID)
            #expect(node.nodetool().incrementalBackupsEnabled)
        }
    }

    @Test("large SSTables get the large size")
    func largeSSTables() throws {
        try withNode({
            $0.largeSSTables = 2
            $0.largeDataSize = 3 << 20
        }) { node in
            #expect(node.sstables.filter { $0.dataFile.size == 3 << 20 }.count == 2)
            for sstable in node.sstables where sstable.dataFile.size == 3 << 20 {
                let digest = try readText(
                    sstable.directory.appendingPathComponent(sstable.prefix + "Digest.crc32"))
                #expect(digest == String(try crc32(of: sstable.dataFile.url)))
            }
        }
    }

    /// Size, not speed: timing belongs in benchmarks, not in assertions on a shared machine.
    @Test("the snapshot-storm node (200 tables × 20 SSTables × 8 components) is built complete")
    func stormSize() throws {
        try withNode({
            $0.keyspaces = 4
            $0.tablesPerKeyspace = 50
            $0.sstablesPerTable = 20
            $0.dataSize = 4096...16384
        }) { node in
            #expect(node.files.count == 32_000)
            #expect(regularFiles(under: node.dataDirectories[0]).count == 32_000)
        }
    }
}
