import COpenSSL
import Foundation

/// Hash algorithms cassnap uses: SHA-256 for manifest checksums and SigV4, MD5 for S3 Content-MD5
/// and GCS md5Hash, SHA-1 only where a peer format demands it.
package enum DigestAlgorithm: Sendable {
    case sha256
    case md5
    case sha1

    var evp: OpaquePointer {
        switch self {
        case .sha256: EVP_sha256()
        case .md5: EVP_md5()
        case .sha1: EVP_sha1()
        }
    }
}

/// An incremental digest over libcrypto's EVP interface, for hashing files as they stream.
package final class Hasher {
    private let context: OpaquePointer
    package let algorithm: DigestAlgorithm

    package init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        context = ctx
        EVP_DigestInit_ex(context, algorithm.evp, nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    package func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    package func update(_ data: some DataProtocol) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    /// Returns the digest; the hasher must not be used afterwards.
    package func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Array(out.prefix(Int(length)))
    }
}

package enum Digest {
    /// Read size for hashing and copying files: big enough for full-speed sequential reads,
    /// small enough that dozens of parallel transfers stay within a few MiB.
    package static let fileBufferSize = 256 << 10

    package static func hash(_ algorithm: DigestAlgorithm, _ data: some DataProtocol) -> [UInt8] {
        let h = Hasher(algorithm)
        h.update(data)
        return h.finalize()
    }

    package static func sha256(_ data: some DataProtocol) -> [UInt8] { hash(.sha256, data) }
    package static func md5(_ data: some DataProtocol) -> [UInt8] { hash(.md5, data) }

    package static func hmacSHA256(key: some DataProtocol, _ message: some DataProtocol) -> [UInt8] {
        let keyBytes = Array(key)
        let messageBytes = Array(message)
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = HMAC(
            EVP_sha256(), keyBytes, Int32(keyBytes.count), messageBytes, messageBytes.count, &out, &length)
        return Array(out.prefix(Int(length)))
    }

    /// Hashes `length` bytes of an open file from `offset` without loading it whole.
    package static func hashFile(
        _ algorithm: DigestAlgorithm, fd: Int32, offset: Int64 = 0, length: Int64? = nil,
        bufferSize: Int = Digest.fileBufferSize
    ) throws -> [UInt8] {
        let h = Hasher(algorithm)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var position = offset
        var remaining = length ?? Int64.max
        while remaining > 0 {
            let want = Int(min(Int64(bufferSize), remaining))
            let n = pread(fd, buffer.baseAddress, want, off_t(position))
            if n < 0 {
                if errno == EINTR { continue }
                throw DigestError.readFailed(errno: errno)
            }
            if n == 0 { break }
            h.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            position += Int64(n)
            remaining -= Int64(n)
        }
        if let length, position - offset != length {
            throw DigestError.shortFile(expected: length, got: position - offset)
        }
        return h.finalize()
    }
}

package enum DigestError: Error, CustomStringConvertible {
    case readFailed(errno: Int32)
    case shortFile(expected: Int64, got: Int64)

    package var description: String {
        switch self {
        case .readFailed(let e): "reading file to hash failed: \(String(cString: strerror(e)))"
        case .shortFile(let expected, let got):
            "file is shorter than expected while hashing: wanted \(expected) bytes, read \(got)"
        }
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex, as S3 SigV4 and our manifests want.
    package var hexString: String {
        let bytes = Array(self)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, byte) in bytes.enumerated() {
                out[2 * i] = hexDigit(byte >> 4)
                out[2 * i + 1] = hexDigit(byte & 0x0f)
            }
            return bytes.count * 2
        }
    }
}

@inline(__always) private func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
}
