import CassnapCore
import CassnapCrypto
import CassnapObjectStore
import CassnapRepository
import CassnapTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 11 (fault suite): the restore target is a small file system the test mounts (tmpfs).
/// What must hold: the restore is refused before it writes anything, with the sizes in the
/// message, the bucket is untouched, and the same command completes once there is room.
@Suite(.serialized) struct SmallTargetTests {
    static var isRoot: Bool { getuid() == 0 }

    /// `count` files of `size` bytes in one table: little data, many blocks.
    static func node(files count: Int, size: Int) async throws -> (Repository, RestorePlan) {
        let store = InMemoryObjectStore()
        let keys = ObjectKeys(cluster: try ClusterName("Test Cluster"))
        let host = try HostID("6f1c2a4e-0000-4000-8000-000000000001")
        let ref = try TableRef(keyspace: "shop", table: "tiny", id: nil)
        var sstables: [NodeManifest.SSTable] = []
        for generation in 1...count {
            let fileName = "nb-\(generation)-big-Data.db"
            let pooled = try PooledFile(
                host: host, table: ref, indexName: nil, file: SSTableFileName.parse(fileName))
            let key = keys.primaryKey(for: pooled)
            let bytes = [UInt8](repeating: UInt8(generation % 251), count: size)
            let info = try await store.put(key: key, source: .bytes(bytes))
            sstables.append(
                NodeManifest.SSTable(
                    name: "nb-\(generation)-big",
                    files: [
                        NodeManifest.File(
                            fileName: fileName, size: info.size, sha256: try SHA256Digest(hex: info.sha256!),
                            objectKey: key)
                    ]))
        }
        let manifest = NodeManifest(
            cluster: keys.cluster,
            node: NodeManifest.Node(
                hostID: host, hostname: "node1", datacenter: "dc1", rack: "r1", tokens: ["42"],
                cassandraVersion: "4.1.3"),
            tag: try SnapshotTag("nightly"), takenAt: Date(), nodeFiles: [],
            tables: [
                NodeManifest.Table(
                    keyspace: "shop", table: "tiny", tableID: nil, snapshotFiles: [], sstables: sstables)
            ])
        let repository = Repository(store: store, keys: keys)
        return (repository, try RestorePlan(manifest: manifest, keys: keys))
    }

    static func mount(_ path: String, size: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let result = try Subprocess.run(
            URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
        guard result.exitCode == 0 else {
            throw RepositoryError.unavailable(detail: "mount: \(result.standardError)")
        }
    }

    static func unmount(_ path: String) {
        _ = try? Subprocess.run(URL(fileURLWithPath: "/bin/umount"), [path])
    }

    @Test(.enabled(if: isRoot, "mounts a tmpfs (root only): run as root"))
    func aTargetWithoutRoomForTheBlocksIsRefusedBeforeWritingAndTheRerunCompletes() async throws {
        // 600 files of 200 bytes: 120 KB of data, but 2.4 MB of 4 KiB blocks.
        let (repository, plan) = try await Self.node(files: 600, size: 200)
        try await TemporaryDirectory.with { dir in
            let mountPoint = dir.appendingPathComponent("small").path
            try Self.mount(mountPoint, size: "1m")
            defer { Self.unmount(mountPoint) }
            let restorer = Restorer(repository: repository)
            let error = await #expect(throws: RepositoryError.self) {
                try await restorer.restore([plan], into: mountPoint + "/restore")
            }
            let message = "\(error.map(String.init(describing:)) ?? "")"
            #expect(message.contains("bytes on disk for 600 files (120000 bytes of data"), "\(message)")
            #expect(message.contains("nothing was written"))
            #expect(files(under: mountPoint).isEmpty, "a refusal writes nothing")
            #expect(try await repository.store.list(prefix: "").count == 600, "the bucket is untouched")

            // Room made (the operator grows the volume): the same restore completes.
            Self.unmount(mountPoint)
            try Self.mount(mountPoint, size: "8m")
            let outcome = try await restorer.restore([plan], into: mountPoint + "/restore")
            #expect(outcome.failures.isEmpty && outcome.downloadedFiles == 600)
            #expect(files(under: mountPoint + "/restore").count == 600)
        }
    }
}
