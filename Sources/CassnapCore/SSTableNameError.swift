/// Why a file name is not the name of an SSTable component. Every case repeats the name.
package enum SSTableNameError: Error, CustomStringConvertible, Hashable, Sendable {
    case empty
    case notAFileName(name: String, reason: String)
    case unrecognizedShape(name: String)
    case invalidVersion(version: String, name: String)
    case invalidGeneration(generation: String, name: String, reason: String)
    case unknownFormat(format: String, name: String)
    case unknownComponent(component: String, name: String)
    case componentNotInFormat(component: SSTableComponent, format: SSTableFormat, name: String)
    case invalidLegacyName(field: String, value: String, name: String)

    package var name: String {
        switch self {
        case .empty: ""
        case .notAFileName(let name, _), .unrecognizedShape(let name), .invalidVersion(_, let name),
            .invalidGeneration(_, let name, _), .unknownFormat(_, let name), .unknownComponent(_, let name),
            .componentNotInFormat(_, _, let name), .invalidLegacyName(_, _, let name):
            name
        }
    }

    package var description: String {
        let file = "SSTable file name \(name.quotedForMessage)"
        switch self {
        case .empty:
            return "\(file) is empty"
        case .notAFileName(_, let reason):
            return "\(file) is not a single file name: \(reason)"
        case .unrecognizedShape:
            return "\(file) has none of the SSTable shapes <version>-<id>-<big|bti>-<Component> or "
                + "<keyspace>-<table>-<version>-<generation>-<Component>"
        case .invalidVersion(let version, _):
            return "\(file) has version \(version.quotedForMessage); versions are two lowercase letters"
        case .invalidGeneration(let generation, _, let reason):
            return "\(file) has generation \(generation.quotedForMessage), which \(reason)"
        case .unknownFormat(let format, _):
            return "\(file) has format \(format.quotedForMessage); known formats are big and bti"
        case .unknownComponent(let component, _):
            return "\(file) has unknown component \(component.quotedForMessage); known components are "
                + SSTableComponent.allCases.map(\.rawValue).joined(separator: ", ")
        case .componentNotInFormat(let component, let format, _):
            return
                "\(file) has component \(component.rawValue), which \(format.rawValue) SSTables do not have"
        case .invalidLegacyName(let field, let value, _):
            return
                "\(file) has \(field) \(value.quotedForMessage); Cassandra names contain only ASCII letters, "
                + "digits and underscores"
        }
    }
}
