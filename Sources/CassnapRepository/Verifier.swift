import CassnapCore
import CassnapCrypto
import CassnapStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Whether a cluster snapshot can be restored, node by node and file by file.
package struct SnapshotVerification: Sendable {
    package struct Node: Sendable {
        package var hostID: HostID
        package var hostname: String?
        /// The node's status in the cluster snapshot record.
        package var recordStatus: ClusterSnapshotRecord.NodeStatus
        /// Why the manifest could not be read, when it could not.
        package var manifestError: String?
        package var files = 0
        package var bytes: Int64 = 0
        package var problems: [ObjectProblem] = []

        /// Its manifest is readable and every object it lists is as listed.
        package var isRestorable: Bool {
            recordStatus == .complete && manifestError == nil && problems.isEmpty
        }
    }

    package var record: ClusterSnapshotRecord
    package var nodes: [Node]
    package var deep: Bool

    /// Every node the record calls complete (of those checked) is restorable.
    package var completeNodesAreRestorable: Bool {
        nodes.filter { $0.recordStatus == .complete }.allSatisfy(\.isRestorable)
    }
}

extension Repository {
    /// Checks the manifests of `record`'s complete nodes (all, or those in `only`): each object
    /// exists with the listed size (one listing per directory), and with `deep` its content's
    /// SHA-256 matches the manifest. Deep checks download each object into a scratch directory
    /// one at a time per worker and delete it at once, so disk use stays at `concurrency`
    /// objects.
    package func verify(
        _ record: ClusterSnapshotRecord, only: Set<HostID>? = nil, deep: Bool = false, concurrency: Int = 4
    ) async throws -> SnapshotVerification {
        var nodes: [SnapshotVerification.Node] = []
        for entry in record.nodes where only?.contains(entry.hostID) ?? true {
            var node = SnapshotVerification.Node(
                hostID: entry.hostID, hostname: entry.hostname, recordStatus: entry.status)
            guard entry.status == .complete else {
                nodes.append(node)
                continue
            }
            let manifest: NodeManifest
            do { manifest = try await nodeManifest(host: entry.hostID, tag: record.tag) } catch let error
                as RepositoryError where !error.isRetryable
            {
                node.manifestError = error.description
                nodes.append(node)
                continue
            }
            node.files = manifest.allFiles.count
            node.bytes = manifest.totalSize
            node.problems = try await checkObjects(of: manifest)
            if deep && node.problems.isEmpty {
                node.problems = try await checkContents(of: manifest.allFiles, concurrency: concurrency)
            }
            nodes.append(node)
        }
        return SnapshotVerification(record: record, nodes: nodes, deep: deep)
    }

    /// Downloads each file and compares its SHA-256 with the manifest's.
    package func checkContents(of files: [NodeManifest.File], concurrency: Int) async throws
        -> [ObjectProblem]
    {
        let scratch = NSTemporaryDirectory() + "/cassnap-verify-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(
            atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let store = self.store
        var problems: [ObjectProblem] = []
        try await withThrowingTaskGroup(of: ObjectProblem?.self) { group in
            var next = files.enumerated().makeIterator()
            func startOne() -> Bool {
                guard let (i, file) = next.next() else { return false }
                group.addTask {
                    let path = scratch + "/\(i)"
                    defer { unlink(path) }
                    let info: ObjectInfo
                    do { info = try await store.get(key: file.objectKey, to: path) } catch let error
                        as ObjectStoreError where !error.isRetryable || Self.isChecksumMismatch(error)
                    {
                        return error.isNotFound
                            ? ObjectProblem(file: file, kind: .missing)
                            : ObjectProblem(file: file, kind: .unreadable(detail: error.description))
                    }
                    let sha: String
                    if let held = info.sha256 {
                        sha = held
                    } else {
                        let fd = open(path, O_RDONLY | O_CLOEXEC)
                        defer { close(fd) }
                        sha = try Digest.hashFile(.sha256, fd: fd).hexString
                    }
                    return sha == file.sha256.hex
                        ? nil : ObjectProblem(file: file, kind: .wrongChecksum(actual: sha))
                }
                return true
            }
            for _ in 0..<max(1, concurrency) where !startOne() { break }
            while let result = try await group.next() {
                if let result { problems.append(result) }
                _ = startOne()
            }
        }
        return problems.sorted { $0.file.objectKey < $1.file.objectKey }
    }
}

extension Repository {
    /// A mismatch that outlived the store's retries is damage, not an outage.
    static func isChecksumMismatch(_ error: ObjectStoreError) -> Bool {
        if case .checksumMismatch = error { return true }
        return false
    }
}
