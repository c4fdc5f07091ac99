import CassnapCore
import CassnapObjectStore

/// Why the repository could not answer, classified so callers know how to react: retry later
/// (`isRetryable`), or report the damage (everything else). Translated to HTTP statuses in the
/// coordinator and to exit codes in the CLI, nowhere else.
package enum RepositoryError: Error, CustomStringConvertible, Sendable {
    case notFound(key: String)
    case snapshotNotFound(ref: String)
    case documentTooLarge(key: String, size: Int64, limit: Int64)
    case invalidDocument(key: String, error: ManifestError)
    /// A manifest of another node, tag or cluster than its key says.
    case wrongOwner(key: String, detail: String)
    /// A manifest whose names would escape the restore target or whose keys leave its node.
    case unsafeManifest(host: HostID, detail: String)
    /// The restore target cannot be used as it is (a symlink on the way, no space, not empty).
    case unsafeTarget(path: String, detail: String)
    /// The store refused for good (credentials, a bad key).
    case refused(detail: String)
    /// The store is unavailable or failed in transit: worth another try.
    case unavailable(detail: String)

    init(store error: any Error, key: String) {
        switch error as? ObjectStoreError {
        case let error? where error.isNotFound: self = .notFound(key: key)
        case let error? where error.isRetryable: self = .unavailable(detail: error.description)
        case let error?: self = .refused(detail: error.description)
        case nil: self = .unavailable(detail: "\(error)")
        }
    }

    package var isRetryable: Bool {
        if case .unavailable = self { return true }
        return false
    }

    package var isNotFound: Bool {
        switch self {
        case .notFound, .snapshotNotFound: true
        default: false
        }
    }

    package var description: String {
        switch self {
        case .notFound(let key): "\(key) is not in the bucket"
        case .snapshotNotFound(let ref):
            "no cluster snapshot with id or tag \(ref.quotedForMessage) in the bucket"
        case .documentTooLarge(let key, let size, let limit):
            "\(key) is \(size) bytes, more than the limit of \(limit) bytes"
        case .invalidDocument(let key, let error): "\(key): \(error)"
        case .wrongOwner(let key, let detail): "\(key) does not belong here: \(detail)"
        case .unsafeManifest(let host, let detail): "the manifest of node \(host) is refused: \(detail)"
        case .unsafeTarget(let path, let detail): "cannot restore into \(path): \(detail)"
        case .refused(let detail): "the store refused: \(detail)"
        case .unavailable(let detail): "the store is unavailable: \(detail)"
        }
    }
}
