import CassnapCrypto
import CassnapHTTP
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of one upload or download: a range of an open file, read with `pread` so nothing
/// is ever loaded whole, or a small in-memory buffer.
enum LocalContent {
    case file(fd: Int32, offset: Int64, length: Int64)
    case bytes([UInt8])

    var length: Int64 {
        switch self {
        case .file(_, _, let length): length
        case .bytes(let bytes): Int64(bytes.count)
        }
    }

    /// An HTTP body for `count` bytes from `start`, streamed from the file.
    func body(from start: Int64, count: Int64) -> HTTPRequest.Body {
        switch self {
        case .file(let fd, let offset, _): .file(fd: fd, offset: offset + start, length: count)
        case .bytes(let bytes): .bytes(Array(bytes[Int(start)..<Int(start + count)]))
        }
    }

    /// All bytes in memory; only for bodies below the resumable threshold.
    func readAll() throws -> [UInt8] {
        switch self {
        case .bytes(let bytes): return bytes
        case .file(let fd, let offset, let length):
            var out = [UInt8](repeating: 0, count: Int(length))
            var done = 0
            try out.withUnsafeMutableBytes { buffer in
                while done < Int(length) {
                    let n = pread(
                        fd, buffer.baseAddress! + done, Int(length) - done, off_t(offset) + off_t(done))
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { throw LocalContentError.read(errnoText()) }
                    if n == 0 { throw LocalContentError.read("file shrank while reading") }
                    done += n
                }
            }
            return out
        }
    }
}

enum LocalContentError: Error, CustomStringConvertible {
    case read(String)
    var description: String {
        switch self {
        case .read(let why): "read failed: \(why)"
        }
    }
}

/// SHA-256 (optional: the caller may already know it), MD5 and CRC32C of content, computed in
/// one streaming pass.
struct LocalChecksums {
    var sha256: String?
    var md5: [UInt8]
    var crc32c: UInt32

    var md5Base64: String { Base64.encode(md5) }
    var crc32cBase64: String { CRC32C.base64(crc32c) }

    static func compute(
        _ content: LocalContent, sha256 wantSHA256: Bool, bufferSize: Int = Digest.fileBufferSize
    ) throws
        -> LocalChecksums
    {
        let sha = wantSHA256 ? Hasher(.sha256) : nil
        let md5 = Hasher(.md5)
        var crc = CRC32C()
        func feed(_ chunk: UnsafeRawBufferPointer) {
            sha?.update(chunk)
            md5.update(chunk)
            crc.update(chunk)
        }
        switch content {
        case .bytes(let bytes):
            bytes.withUnsafeBytes { feed($0) }
        case .file(let fd, let offset, let length):
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
            defer { buffer.deallocate() }
            var done: Int64 = 0
            while done < length {
                let want = Int(min(Int64(bufferSize), length - done))
                let n = pread(fd, buffer.baseAddress, want, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw LocalContentError.read(errnoText()) }
                if n == 0 { throw LocalContentError.read("file is shorter than \(length) bytes") }
                feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                done += Int64(n)
            }
        }
        return LocalChecksums(sha256: sha?.finalize().hexString, md5: md5.finalize(), crc32c: crc.value)
    }
}
