import COpenSSL
import Foundation

/// Hash algorithms cassnap uses: SHA-256 for manifest checksums and SigV4, MD5 for S3 Content-MD5
/// and GCS md5Hash, SHA-1 only where a peer format demands it.
package enum DigestAlgorithm: Sendable {
    case sha256
    case md5
    case sha1

    /// The algorithm fetched from the default provider once: OpenSSL 3 otherwise looks the
    /// implementation up by name again in every `EVP_DigestInit_ex`.
    var evp: OpaquePointer {
        switch self {
        case .sha256: FetchedDigests.shared.sha256
        case .md5: FetchedDigests.shared.md5
        case .sha1: FetchedDigests.shared.sha1
        }
    }
}

/// Digest implementations fetched once and kept for the life of the process (immutable, and
/// safe to share between threads once fetched).
private struct FetchedDigests: @unchecked Sendable {
    static let shared = FetchedDigests()

    let sha256: OpaquePointer
    let md5: OpaquePointer
    let sha1: OpaquePointer

    private init() {
        sha256 = EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()
        md5 = EVP_MD_fetch(nil, "MD5", nil) ?? EVP_md5()
        sha1 = EVP_MD_fetch(nil, "SHA1", nil) ?? EVP_sha1()
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

    /// The common case without generic dispatch: signing hashes byte arrays on every request.
    package static func sha256(_ bytes: [UInt8]) -> [UInt8] { hash(.sha256, bytes) }
    package static func md5(_ bytes: [UInt8]) -> [UInt8] { hash(.md5, bytes) }

    package static func hash(_ algorithm: DigestAlgorithm, _ bytes: [UInt8]) -> [UInt8] {
        let h = Hasher(algorithm)
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalize()
    }

    package static func hmacSHA256(key: some DataProtocol, _ message: some DataProtocol) -> [UInt8] {
        hmacSHA256(keyBytes: Array(key), Array(message))
    }

    /// HMAC-SHA256 of byte arrays, without generic dispatch (SigV4 signs every request).
    /// Built from two SHA-256 digests as RFC 2104 defines it: OpenSSL 3's `HMAC()` fetches the
    /// MAC implementation by name, under a global lock, on every call.
    package static func hmacSHA256(keyBytes key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let blockSize = 64
        var block = key.count > blockSize ? sha256(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        let inner = Hasher(.sha256)
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        let outer = Hasher(.sha256)
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(inner.finalize())
        return outer.finalize()
    }

    /// Hashes `length` bytes of an open file from `offset` without loading it whole.
    package static func hashFile(
        _ algorithm: DigestAlgorithm, fd: Int32, offset: Int64 = 0, length: Int64? = nil,
        bufferSize: Int = Digest.fileBufferSize
    ) throws -> [UInt8] {
        let h = Hasher(algorithm)
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: readBufferSize(fd: fd, offset: offset, length: length, limit: bufferSize),
            alignment: 16)
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

extension Digest {
    /// A read buffer no bigger than the bytes to read: most SSTable components are a few KiB,
    /// for which 256 KiB of heap per hash is waste.
    package static func readBufferSize(fd: Int32, offset: Int64, length: Int64?, limit: Int) -> Int {
        var wanted = length
        if wanted == nil {
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                // One byte more than the size, so a file that grows is still read to its end.
                wanted = max(0, Int64(st.st_size) - offset) + 1
            }
        }
        guard let wanted else { return limit }
        return Int(max(1, min(Int64(limit), wanted)))
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
