/// Why a manifest or cluster snapshot record cannot be read or is not acceptable.
package enum ManifestError: Error, CustomStringConvertible, Hashable, Sendable {
    case unsupportedFormatVersion(document: String, found: FormatVersion, supportedMajor: Int)
    /// Not JSON, a missing or mistyped field; `detail` names the field path.
    case malformed(document: String, detail: String)
    /// Well-formed JSON whose content is impossible (bad names, keys that escape, sizes < 0).
    case invalidContent(document: String, detail: String)

    package var description: String {
        switch self {
        case .unsupportedFormatVersion(let document, let found, let supportedMajor):
            "\(document) has formatVersion \(found), but this cassnap reads only \(supportedMajor).x; "
                + (found.major > supportedMajor
                    ? "upgrade cassnap to read it" : "it was not written by cassnap")
        case .malformed(let document, let detail):
            "\(document) is malformed: \(detail)"
        case .invalidContent(let document, let detail):
            "\(document) is invalid: \(detail)"
        }
    }
}
