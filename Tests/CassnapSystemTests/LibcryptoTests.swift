import CassnapCrypto
import Foundation
import Testing

/// Proves the libcrypto link with published vectors (FIPS 180-2, RFC 1321, RFC 4231).
@Suite struct LibcryptoTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func sha256(input: String, expected: String) {
        #expect(Digest.sha256(Array(input.utf8)).hexString == expected)
    }

    @Test func sha256OfAMillionAsStreamed() {
        let hasher = Hasher(.sha256)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { chunk.withUnsafeBytes { hasher.update($0) } }
        #expect(
            hasher.finalize().hexString == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func md5() {
        #expect(Digest.md5(Array("abc".utf8)).hexString == "900150983cd24fb0d6963f7d28e17f72")
        #expect(Digest.md5([UInt8]()).hexString == "d41d8cd98f00b204e9800998ecf8427e")
    }

    @Test func hmacSHA256RFC4231() {
        // Test case 1
        let key1 = [UInt8](repeating: 0x0b, count: 20)
        #expect(
            Digest.hmacSHA256(key: key1, Array("Hi There".utf8)).hexString
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // Test case 2
        #expect(
            Digest.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8)).hexString
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than the block size
        let key6 = [UInt8](repeating: 0xaa, count: 131)
        #expect(
            Digest.hmacSHA256(key: key6, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                .hexString == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func hashFileRangeMatchesInMemoryHash() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cassnap-hash-\(UUID())")
            .path
        defer { unlink(path) }
        var bytes = [UInt8](repeating: 0, count: 3_000_017)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        #expect(try Digest.hashFile(.sha256, fd: fd, bufferSize: 4096) == Digest.sha256(bytes))
        let range = try Digest.hashFile(
            .sha256, fd: fd, offset: 1_000_000, length: 1_500_000, bufferSize: 65536)
        #expect(range == Digest.sha256(bytes[1_000_000..<2_500_000]))
        #expect(throws: DigestError.self) {
            try Digest.hashFile(.md5, fd: fd, offset: 3_000_000, length: 100)
        }
    }
}
