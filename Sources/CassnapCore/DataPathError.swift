/// A path that cannot be classified at all because it is malformed or outside the data dirs.
package enum DataPathError: Error, CustomStringConvertible, Hashable, Sendable {
    case emptyPath
    case containsNUL(path: String)
    case notRelative(path: String)
    case notAbsolute(path: String)
    case emptyComponent(path: String)
    case dotComponent(path: String, component: String)
    case outsideDataDirectories(path: String, dataDirectories: [String])
    case invalidDataDirectory(path: String, reason: String)

    package var description: String {
        switch self {
        case .emptyPath:
            "path \"\" is empty"
        case .containsNUL(let path):
            "path \(path.quotedForMessage) contains a NUL character"
        case .notRelative(let path):
            "path \(path.quotedForMessage) must be relative to a data directory, not start with \"/\""
        case .notAbsolute(let path):
            "path \(path.quotedForMessage) must be absolute"
        case .emptyComponent(let path):
            "path \(path.quotedForMessage) has an empty component (\"//\")"
        case .dotComponent(let path, let component):
            "path \(path.quotedForMessage) has a \(component.quotedForMessage) component; paths must be normalized"
        case .outsideDataDirectories(let path, let roots):
            roots.isEmpty
                ? "path \(path.quotedForMessage) is outside the data directories: none are configured"
                : "path \(path.quotedForMessage) is outside the data directories "
                    + roots.map(\.quotedForMessage).joined(separator: ", ")
        case .invalidDataDirectory(let path, let reason):
            "data directory \(path.quotedForMessage) \(reason)"
        }
    }
}
