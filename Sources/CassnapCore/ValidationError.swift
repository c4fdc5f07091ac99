/// A name or value that cassnap refuses: it names the field, repeats the value and says why.
package enum ValidationError: Error, CustomStringConvertible, Hashable, Sendable {
    case invalid(field: Field, value: String, reason: String)

    /// What kind of value was rejected; its description is the operator's word for it.
    package enum Field: String, Sendable, Hashable, CustomStringConvertible {
        case keyspace = "keyspace name"
        case table = "table name"
        case index = "secondary index name"
        case tableDirectory = "table directory name"
        case tableID = "table ID"
        case hostID = "host ID"
        case snapshotID = "snapshot ID"
        case snapshotTag = "snapshot tag"
        case clusterName = "cluster name"
        case sha256 = "SHA-256 digest"
        case globPattern = "glob pattern"
        case qualifiedTable = "keyspace.table filter"
        case sstableFile = "SSTable file"
        case opaqueFile = "opaque snapshot file name"
        case scheduleName = "schedule name"
        case cron = "cron expression"

        package var description: String { rawValue }
    }

    package var field: Field {
        switch self {
        case .invalid(let field, _, _): field
        }
    }

    package var value: String {
        switch self {
        case .invalid(_, let value, _): value
        }
    }

    package var description: String {
        switch self {
        case .invalid(let field, let value, let reason):
            "invalid \(field) \(value.quotedForMessage): \(reason)"
        }
    }
}
