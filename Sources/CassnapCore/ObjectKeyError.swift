/// Why an object key (or a path taken from one) is refused.
package enum ObjectKeyError: Error, CustomStringConvertible, Hashable, Sendable {
    /// The key or path could escape or confuse a restore directory: invariant 7.
    case unsafe(key: String, reason: String)
    /// The key is not below `<cluster>/` of the layout that parses it.
    case outsideCluster(key: String, clusterRoot: String)
    /// The key is below the cluster root but is none of the documented shapes.
    case unrecognized(key: String, reason: String)
    /// A segment of the key is not a valid host ID, tag, keyspace, … .
    case invalidSegment(key: String, error: ValidationError)
    /// A data-directory path that is not a shipped SSTable file cannot get a pool key.
    case notPoolable(path: String, reason: String)

    package var description: String {
        switch self {
        case .unsafe(let key, let reason):
            "object key or path \(key.quotedForMessage) is unsafe to restore: \(reason)"
        case .outsideCluster(let key, let clusterRoot):
            "object key \(key.quotedForMessage) is not under \(clusterRoot.quotedForMessage)"
        case .unrecognized(let key, let reason):
            "object key \(key.quotedForMessage) is not a cassnap key: \(reason)"
        case .invalidSegment(let key, let error):
            "object key \(key.quotedForMessage) has an \(error)"
        case .notPoolable(let path, let reason):
            "path \(path.quotedForMessage) has no pool key: \(reason)"
        }
    }
}
