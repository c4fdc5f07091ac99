/// What the coordinator's services (snapshots, schedules) refuse, in their own terms. They know
/// nothing of HTTP: the status each case answers with is chosen at the edge, in APIError.swift.
package enum ServiceError: Error, Equatable, CustomStringConvertible {
    /// A request field is wrong; the message says why.
    case invalidField(field: String, message: String)
    /// No such snapshot or schedule.
    case notFound(what: String, ref: String)
    /// The request contradicts what exists (a tag taken, no live node); `code` is the API's.
    case conflict(code: String, message: String)
    /// A dependency (the bucket, the catalog) failed; worth retrying later.
    case unavailable(String)

    static func invalidField(_ field: String, _ message: String) -> ServiceError {
        .invalidField(field: field, message: message)
    }
    static func notFound(_ what: String, _ ref: String) -> ServiceError { .notFound(what: what, ref: ref) }
    static func conflict(_ code: String, _ message: String) -> ServiceError {
        .conflict(code: code, message: message)
    }

    package var message: String {
        switch self {
        case .invalidField(let field, let message): "\(field): \(message)"
        case .notFound(let what, let ref): "no \(what) \(ref.debugDescription)"
        case .conflict(_, let message), .unavailable(let message): message
        }
    }

    package var description: String { message }
}
