import CassnapCore
import CassnapCrypto
import CassnapObjectStore
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
    /// SHA-256 matches the manifest, streamed and hashed without writing to disk.
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

    /// Streams each file and compares its SHA-256 with the manifest's. The bytes go to
    /// `/dev/null` as they are hashed: nothing is written to disk, and memory stays at one
    /// transfer buffer per worker.
    package func checkContents(of files: [NodeManifest.File], concurrency: Int) async throws
        -> [ObjectProblem]
    {
        let sink = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard sink >= 0 else {
            throw RepositoryError.unsafeTarget(path: "/dev/null", detail: String(cString: strerror(errno)))
        }
        defer { close(sink) }
        let store = self.store
        var problems: [ObjectProblem] = []
        try await withThrowingTaskGroup(of: ObjectProblem?.self) { group in
            var next = files.makeIterator()
            func startOne() -> Bool {
                guard let file = next.next() else { return false }
                group.addTask {
                    let read: ObjectRead
                    do {
                        read = try await store.read(key: file.objectKey, into: ReadTarget(fd: sink))
                    } catch let error
                        as ObjectStoreError where !error.isRetryable || Self.isChecksumMismatch(error)
                    {
                        return error.isNotFound
                            ? ObjectProblem(file: file, kind: .missing)
                            : ObjectProblem(file: file, kind: .unreadable(detail: error.description))
                    }
                    if read.bytes != file.size {
                        return ObjectProblem(file: file, kind: .wrongSize(actual: read.bytes))
                    }
                    let sha = read.sha256 ?? ""
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
