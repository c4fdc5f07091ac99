import ArgumentParser
import CassnapAPI
import CassnapCore
import CassnapObjectStore
import CassnapRepository
import CassnapStoreFactory
import Foundation

/// Where `verify` and `restore` read backups from: the store itself (`--store URL --cluster
/// NAME`), which needs no coordinator at all, or the store the coordinator names.
package struct RepositoryOptions: ParsableArguments {
    @Option(help: "Read the bucket directly: s3://bucket/prefix, gs://bucket/prefix or file:///path.")
    package var store: String?
    @Option(help: "The Cassandra cluster name, with --store.") package var cluster: String?
    @OptionGroup package var coordinator: CoordinatorOptions

    package init() {}

    /// The repository, and whether output is JSON. Without `--store` the coordinator is asked
    /// where the store is; the store is then opened with this machine's credentials.
    package func open() async throws -> Repository {
        var url = store
        var cluster = cluster
        if url == nil {
            let info = try await CoordinatorSession.runReturning(coordinator) {
                try await $0.client.repositoryInfo()
            }
            url = info.store
            cluster = cluster ?? info.cluster
        }
        guard let url else { throw CLIError.usage("give --store URL --cluster NAME, or a coordinator") }
        guard let cluster else { throw CLIError.usage("--cluster is required with --store") }
        let keys: ObjectKeys
        do { keys = ObjectKeys(cluster: try ClusterName(cluster)) } catch {
            throw CLIError.usage("--cluster: \(error)")
        }
        var settings = StoreSettings()
        settings.onRetry = { operation, key, error, attempt in
            FileHandle.standardError.write(
                Data("cassnap: retrying \(operation) \(key) (attempt \(attempt + 1)): \(error)\n".utf8))
        }
        do {
            return Repository(store: try ObjectStoreFactory.open(url: url, settings: settings), keys: keys)
        } catch {
            throw CLIError(message: "--store \(url): \(error)", exitCode: ExitStatus.usage)
        }
    }
}

/// Repository failures become one line and the documented exit code.
package func withRepositoryErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as RepositoryError {
        FileHandle.standardError.write(Data("cassnap: \(error)\n".utf8))
        let code: Int32 =
            switch error {
            case .notFound, .snapshotNotFound: ExitStatus.notFound
            case .unavailable: ExitStatus.unavailable
            case .unsafeTarget, .unsafeManifest: ExitStatus.usage
            default: ExitStatus.failure
            }
        throw ExitCode(code)
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("cassnap: \(error.message)\n".utf8))
        throw ExitCode(error.exitCode)
    }
}

/// Nodes named by host ID or hostname, checked against a snapshot's record.
func resolveNodes(_ refs: [String], in record: ClusterSnapshotRecord) throws -> Set<HostID> {
    var hosts: Set<HostID> = []
    for ref in refs {
        let matches = record.nodes.filter { $0.hostID.description == ref.lowercased() || $0.hostname == ref }
        guard matches.count == 1 else {
            throw CLIError(
                message: matches.isEmpty
                    ? "--node \(ref.debugDescription) is not a node of snapshot \(record.tag)"
                    : "--node \(ref.debugDescription) names \(matches.count) nodes; give the host ID",
                exitCode: ExitStatus.notFound)
        }
        hosts.insert(matches[0].hostID)
    }
    return hosts
}

extension Repository {
    /// The cluster snapshot `ref`; failing that, with nodes named by host ID, the snapshot those
    /// nodes took outside cassnap under tag `ref` (their manifests, no cluster record).
    func clusterSnapshotOrNodeSnapshot(_ ref: String, nodes: [String]) async throws -> ClusterSnapshotRecord {
        do { return try await clusterSnapshot(ref) } catch RepositoryError.snapshotNotFound(let missing) {
            let hosts = nodes.compactMap { try? HostID($0) }
            guard let tag = try? SnapshotTag(ref), !hosts.isEmpty, hosts.count == nodes.count else {
                throw RepositoryError.snapshotNotFound(ref: missing)
            }
            return try await nodeSnapshot(tag: tag, hosts: hosts)
        }
    }
}
