import CassnapCrypto
import CassnapObjectStore
import CassnapTestSupport
import Foundation

/// Every store the conformance suite runs against. Cloud kinds need the real servers that
/// `make test` starts; without them they are left out of the arguments, and the marker tests
/// in `ServersPresentTests` show the skip (under CI=true they fail instead).
enum StoreKind: String, CaseIterable, Sendable {
    case memory, filesystem, s3Moto, s3Rclone, gcs

    var available: Bool {
        switch self {
        case .memory, .filesystem: true
        case .s3Moto: TestServers.s3Enabled
        case .s3Rclone: TestServers.rcloneS3 != nil || TestServers.isCI
        case .gcs: TestServers.gcsEnabled
        }
    }

    static var available: [StoreKind] { allCases.filter(\.available) }
    static var cloud: [StoreKind] { [.s3Moto, .gcs].filter(\.available) }
}

/// A fresh, empty store for one test, with a scratch directory for local files.
struct StoreFixture: Sendable {
    let store: any ObjectStore
    let scratch: String

    /// Builds the store of `kind`; `endpointOverride` routes cloud traffic through a fault proxy.
    static func make(_ kind: StoreKind, endpointOverride: String? = nil, smallPages: Bool = true) async throws
        -> StoreFixture
    {
        let scratch = try makeScratch()
        let unique = "cassnap-\(UInt32.random(in: 0...UInt32.max))"
        switch kind {
        case .memory:
            return StoreFixture(store: InMemoryObjectStore(), scratch: scratch)
        case .filesystem:
            return StoreFixture(store: try FileSystemObjectStore(root: scratch + "/store"), scratch: scratch)
        case .s3Moto, .s3Rclone, .gcs:
            let store = try await CloudStoreFactory.make(
                kind, bucket: unique, endpointOverride: endpointOverride, smallPages: smallPages)
            return StoreFixture(store: store, scratch: scratch)
        }
    }

    static func makeScratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cassnap-store-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: scratch) }

    /// Writes a deterministic file of `size` bytes (distinct per seed) and returns its path.
    func makeFile(_ name: String, size: Int, seed: UInt8 = 1) throws -> String {
        let path = scratch + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        var block = [UInt8](repeating: 0, count: 1 << 20)
        var written = 0
        var counter: UInt32 = UInt32(seed) &* 2_654_435_761
        while written < size {
            let n = min(block.count, size - written)
            for i in stride(from: 0, to: n, by: 4) {
                counter = counter &* 1_664_525 &+ 1_013_904_223
                withUnsafeBytes(of: counter) { raw in
                    for j in 0..<min(4, n - i) { block[i + j] = raw[j] }
                }
            }
            _ = block.withUnsafeBytes { write(fd, $0.baseAddress, n) }
            written += n
        }
        return path
    }

    func sha256(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        return try Digest.hashFile(.sha256, fd: fd).hexString
    }
}
