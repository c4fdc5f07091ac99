import CassnapCore
import CassnapObjectStore

/// One object a manifest lists that is not as listed.
package struct ObjectProblem: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: Sendable, Hashable {
        case missing
        case wrongSize(actual: Int64)
        case wrongChecksum(actual: String)
        case outsideNode(nodeRoot: String)
        /// The store could not hand over the bytes as stored (its own checksum failed).
        case unreadable(detail: String)
    }
    package var file: NodeManifest.File
    package var kind: Kind

    package var description: String {
        switch kind {
        case .missing: "object \(file.objectKey) listed by the manifest is not in the bucket"
        case .wrongSize(let actual):
            "object \(file.objectKey) has \(actual) bytes, the manifest says \(file.size)"
        case .wrongChecksum(let actual):
            "object \(file.objectKey) has SHA-256 \(actual), the manifest says \(file.sha256.hex)"
        case .outsideNode(let root): "manifest lists \(file.objectKey), outside the node's prefix \(root)"
        case .unreadable(let detail): "object \(file.objectKey) cannot be read back intact: \(detail)"
        }
    }
}

extension Repository {
    /// Checks in the bucket that every object `manifest` lists exists with the listed size (and
    /// SHA-256, where the store's listing carries it), with one listing per directory of the
    /// manifest (a table, an index, the snapshot's own files) instead of a HEAD per object.
    /// Answers every problem found, in key order; empty means the objects are all there.
    package func checkObjects(of manifest: NodeManifest) async throws -> [ObjectProblem] {
        let nodeRoot = keys.nodeRoot(manifest.node.hostID)
        var problems: [ObjectProblem] = []
        var byDirectory: [String: [NodeManifest.File]] = [:]
        for file in manifest.allFiles {
            guard file.objectKey.hasPrefix(nodeRoot) else {
                problems.append(ObjectProblem(file: file, kind: .outsideNode(nodeRoot: nodeRoot)))
                continue
            }
            let slash = file.objectKey.lastIndex(of: "/") ?? file.objectKey.startIndex
            byDirectory[String(file.objectKey[...slash]), default: []].append(file)
        }
        for (directory, files) in byDirectory.sorted(by: { $0.key < $1.key }) {
            let wanted = Set(files.map(\.objectKey))
            var found: [String: ObjectInfo] = [:]
            do {
                try await store.listPages(prefix: directory) { page in
                    for info in page where wanted.contains(info.key) { found[info.key] = info }
                }
            } catch {
                throw RepositoryError(store: error, key: directory)
            }
            for file in files.sorted(by: { $0.objectKey < $1.objectKey }) {
                guard let info = found[file.objectKey] else {
                    problems.append(ObjectProblem(file: file, kind: .missing))
                    continue
                }
                if info.size != file.size {
                    problems.append(ObjectProblem(file: file, kind: .wrongSize(actual: info.size)))
                } else if let sha = info.sha256, sha != file.sha256.hex {
                    problems.append(ObjectProblem(file: file, kind: .wrongChecksum(actual: sha)))
                }
            }
        }
        return problems
    }
}
