import Testing

@testable import CassnapGCS

@Suite("CRC32C")
struct CRC32CTests {
    @Test("check value of \"123456789\"")
    func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("RFC 3720 (iSCSI) B.4 vectors")
    func rfc3720() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        let iscsiRead: [UInt8] = [
            0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]
        #expect(CRC32C.checksum(iscsiRead) == 0xD996_3A56)
    }

    @Test("incremental updates equal one pass, at every split point")
    func incremental() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32C.checksum(data)
        for split in stride(from: 0, through: data.count, by: 37) {
            var crc = CRC32C()
            crc.update(Array(data[..<split]))
            crc.update(Array(data[split...]))
            #expect(crc.value == whole)
        }
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test("base64 is big-endian, as GCS writes crc32c")
    func base64() {
        // fake-gcs-server and GCS report crc32c "mnG7TA==" for "hello".
        #expect(CRC32C.base64(CRC32C.checksum(Array("hello".utf8))) == "mnG7TA==")
        #expect(CRC32C.base64(0xE306_9283) == "4waSgw==")
    }
}
