import CassnapCore
import CassnapCrypto
import CassnapTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension ClusterEndToEndTests {
    /// Three releases as real clusters run them: a 1.2 node whose leveled table keeps
    /// `<table>.json` in each snapshot (and whose nodetool refuses `-kt`), a 5.0 node with SAI
    /// and a 3.11 node with SASI. Every snapshot file is listed and its bytes are in the bucket.
    @Test(.enabled(if: TestServers.s3Enabled, "needs moto_server: run `make test`"))
    func opaqueFilesOfThreeReleasesShipAndTheClusterSnapshotCompletes() async throws {
        try await Cluster.withThreeNodes(configure: { n, c in
            switch n {
            case 1:
                c.format = .ic
                c.leveledManifest = true
            case 2:
                c.format = .oa
                c.saiIndexes = ["age_idx", "name_idx"]
            default:
                c.format = .me
                c.sasiIndexes = ["note_idx"]
            }
        }) { cluster in
            let create = try cluster.cli([
                "snapshot", "create", "--in", "3s", "--tag", "e2e-opaque", "--wait",
            ])
            #expect(create.exitCode == 0, "create --wait: \(create.standardOutput) \(create.standardError)")

            let onDisk = try cluster.snapshotFilesOnDisk(tag: "e2e-opaque", nodes: [1, 2, 3])
            for name in [
                "t0.json", "oa-1-big-SAI+aa+age_idx+Meta.db", "oa-1-big-SAI+aa+GroupComplete.db",
                "me-1-big-SI_note_idx.db",
            ] {
                #expect(onDisk.contains { $0.contains(" \(name) ") }, "\(name) is not in a snapshot on disk")
            }
            let listed = try cluster.listedFiles(tag: "e2e-opaque")
            #expect(listed.files == onDisk, "listed and on-disk snapshot files differ")
            // Byte for byte: download what is neither a component nor tiny-and-known, hash it.
            let scratch = cluster.dir.appendingPathComponent("downloaded").path
            for object in listed.objects
            where
                (try? SSTableFileName.parse(
                    (object.key as NSString).lastPathComponent)) == nil
            {
                _ = try await cluster.store.get(key: object.key, to: scratch)
                let fd = open(scratch, O_RDONLY)
                defer { close(fd) }
                #expect(try Digest.hashFile(.sha256, fd: fd).hexString == object.sha, "\(object.key)")
            }

            // One table by name: 1.2 gets `-cf t0 ks0`, the others `-kt ks0.t0`.
            let one = try cluster.cli([
                "snapshot", "create", "--in", "3s", "--tag", "e2e-one", "--table", "ks0.t0", "--wait",
            ])
            #expect(one.exitCode == 0, "\(one.standardOutput) \(one.standardError)")
            #expect(
                try cluster.listedFiles(tag: "e2e-one").files
                    == cluster.snapshotFilesOnDisk(tag: "e2e-one", nodes: [1, 2, 3]))
        }
    }
}
