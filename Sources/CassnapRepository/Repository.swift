import CassnapCore
import CassnapObjectStore
import Foundation

/// What is in the bucket, and everything that reads it back (restic's repository layer): the
/// cluster snapshot records and node manifests of docs/FORMAT.md, and checks of the objects
/// they list. It works from a store alone — no coordinator — so losing the coordinator never
/// stops a verify or a restore. The coordinator, the CLI and the agent all read through it.
///
/// Owns: reading and validating documents, finding a snapshot by id or tag, checking objects.
/// May import: CassnapCore, CassnapObjectStore, CassnapCrypto. Never HTTP types or wire types:
/// failures are `RepositoryError`s, translated to statuses and exit codes at the edges.
package struct Repository: Sendable {
    package let store: any ObjectStore
    package let keys: ObjectKeys
    /// The largest record or manifest read into memory; a larger one is
    /// `RepositoryError.documentTooLarge`. 128 MiB holds a manifest of about 500,000 files.
    package var maximumDocumentBytes: Int64

    package static let defaultMaximumDocumentBytes: Int64 = 128 << 20

    package init(
        store: any ObjectStore, keys: ObjectKeys, maximumDocumentBytes: Int64 = defaultMaximumDocumentBytes
    ) {
        self.store = store
        self.keys = keys
        self.maximumDocumentBytes = maximumDocumentBytes
    }

    // MARK: Documents

    /// A document's bytes, through a temporary file because the store API streams to files.
    /// The size is checked before and after the download, so a huge object never reaches memory.
    package func readDocument(key: String) async throws -> Data {
        let size: Int64
        do { size = try await store.head(key: key).size } catch {
            throw RepositoryError(store: error, key: key)
        }
        guard size <= maximumDocumentBytes else {
            throw RepositoryError.documentTooLarge(key: key, size: size, limit: maximumDocumentBytes)
        }
        let path = NSTemporaryDirectory() + "/cassnap-document-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let got: Int64
        do { got = try await store.get(key: key, to: path).size } catch {
            throw RepositoryError(store: error, key: key)
        }
        guard got <= maximumDocumentBytes else {
            throw RepositoryError.documentTooLarge(key: key, size: got, limit: maximumDocumentBytes)
        }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw RepositoryError.unavailable(
                detail: "cannot read the downloaded \(key): \(error.localizedDescription)")
        }
    }

    /// The node manifest at `key`, decoded and validated.
    package func nodeManifest(key: String) async throws -> NodeManifest {
        let data = try await readDocument(key: key)
        do { return try NodeManifest.decode(from: data) } catch {
            throw RepositoryError.invalidDocument(key: key, error: error)
        }
    }

    /// The manifest of `host` for `tag`, checked to belong to them and to this cluster.
    package func nodeManifest(host: HostID, tag: SnapshotTag) async throws -> NodeManifest {
        let key = keys.key(for: .nodeManifest(host: host, tag: tag))
        let manifest = try await nodeManifest(key: key)
        guard manifest.node.hostID == host, manifest.tag == tag, manifest.cluster == keys.cluster else {
            throw RepositoryError.wrongOwner(
                key: key,
                detail:
                    "it is for node \(manifest.node.hostID), tag \(manifest.tag), cluster \(manifest.cluster)"
            )
        }
        return manifest
    }

    /// The cluster snapshot record of `tag`.
    package func clusterSnapshot(tag: SnapshotTag) async throws -> ClusterSnapshotRecord {
        try await clusterSnapshotRecord(key: keys.key(for: .clusterSnapshotRecord(tag: tag))).get()
    }

    private func clusterSnapshotRecord(key: String) async -> Result<ClusterSnapshotRecord, RepositoryError> {
        let data: Data
        do { data = try await readDocument(key: key) } catch let error as RepositoryError {
            return .failure(error)
        } catch {
            return .failure(.unavailable(detail: "\(error)"))
        }
        do { return .success(try ClusterSnapshotRecord.decode(from: data)) } catch {
            return .failure(.invalidDocument(key: key, error: error))
        }
    }

    /// Every cluster snapshot record, oldest instant first. A record that cannot be read is
    /// listed in `unreadable` with why, never dropped silently and never fatal.
    package func clusterSnapshots() async throws -> (
        records: [ClusterSnapshotRecord], unreadable: [(key: String, error: RepositoryError)]
    ) {
        let listing: [ObjectInfo]
        do { listing = try await store.list(prefix: keys.clusterSnapshotsRoot) } catch {
            throw RepositoryError(store: error, key: keys.clusterSnapshotsRoot)
        }
        var records: [ClusterSnapshotRecord] = []
        var unreadable: [(key: String, error: RepositoryError)] = []
        for object in listing where object.key.hasSuffix(".json") {
            switch await clusterSnapshotRecord(key: object.key) {
            case .success(let record): records.append(record)
            case .failure(let error) where error.isRetryable: throw error
            case .failure(let error): unreadable.append((object.key, error))
            }
        }
        records.sort { ($0.requestedAt, $0.tag.rawValue) < ($1.requestedAt, $1.tag.rawValue) }
        return (records, unreadable)
    }

    /// The record named by a snapshot id or a tag.
    package func clusterSnapshot(_ ref: String) async throws -> ClusterSnapshotRecord {
        if let tag = try? SnapshotTag(ref) {
            do { return try await clusterSnapshot(tag: tag) } catch let error as RepositoryError
                where error.isNotFound
            {}
        }
        if let id = try? SnapshotID(ref) {
            if let record = try await clusterSnapshots().records.first(where: { $0.id == id }) {
                return record
            }
        }
        throw RepositoryError.snapshotNotFound(ref: ref)
    }

    /// A snapshot taken outside cassnap (`nodetool snapshot -t X`) has node manifests, which
    /// the agents write once it settles, but no cluster record. This stands one in for the
    /// named nodes, from their manifests alone, so restore and verify treat it like any other.
    /// Throws `snapshotNotFound` when none of the nodes has a manifest for `tag`.
    package func nodeSnapshot(tag: SnapshotTag, hosts: [HostID]) async throws -> ClusterSnapshotRecord {
        var nodes: [ClusterSnapshotRecord.NodeEntry] = []
        for host in hosts {
            let manifest: NodeManifest
            do { manifest = try await nodeManifest(host: host, tag: tag) } catch let error as RepositoryError
                where error.isNotFound
            { continue }
            nodes.append(
                ClusterSnapshotRecord.NodeEntry(
                    hostID: host, hostname: manifest.node.hostname, datacenter: manifest.node.datacenter,
                    rack: manifest.node.rack, status: .complete, takenAt: manifest.takenAt,
                    manifestKey: keys.key(for: .nodeManifest(host: host, tag: tag))))
        }
        guard !nodes.isEmpty else { throw RepositoryError.snapshotNotFound(ref: tag.description) }
        return ClusterSnapshotRecord(
            id: SnapshotID(), cluster: keys.cluster, tag: tag,
            requestedAt: nodes.compactMap(\.takenAt).min() ?? Date(), status: .complete, nodes: nodes)
    }
}
