/// The rule for free-form names that become one segment of an object key and one directory on
/// restore (cluster names, snapshot tags): nothing that could split, escape or hide a segment.
enum KeySegment {
    /// Linux's limit for one file name; Cassandra creates `snapshots/<tag>/` so tags obey it too.
    static let maximumBytes = 255

    /// Why `value` cannot be a key segment, or nil when it can.
    static func problem(in value: String) -> String? {
        if value.isEmpty { return "must not be empty" }
        if value == "." || value == ".." { return "\".\" and \"..\" would escape the directory" }
        if value.utf8.count > maximumBytes { return "longer than \(maximumBytes) bytes" }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "/": return "contains \"/\", a path separator"
            case "\\": return "contains \"\\\", a path separator on some systems"
            case "\0": return "contains a NUL character"
            default:
                if scalar.properties.generalCategory == .control {
                    return "contains a control character"
                }
            }
        }
        return nil
    }
}
