import Foundation

/// A node's host ID from `nodetool info`: the node's identity, unlike its hostname.
/// Rendered lowercase with dashes, as Cassandra prints it and as object keys use it.
package struct HostID: Sendable, Hashable, Comparable, StringCodable {
    package let uuid: UUID

    package init(_ uuid: UUID) { self.uuid = uuid }

    /// Accepts either case, since operators paste host IDs from many tools.
    package init(_ string: String) throws(ValidationError) {
        guard let uuid = UUID(uuidString: string) else {
            throw .invalid(field: .hostID, value: string, reason: "not a UUID like 6f1c2a4e-…-…")
        }
        self.uuid = uuid
    }

    /// Only the canonical lowercase form, so that one node never gets two object-key prefixes.
    package init(canonical string: String) throws(ValidationError) {
        try self.init(string)
        guard description == string else {
            throw .invalid(field: .hostID, value: string, reason: "must be written in lowercase")
        }
    }

    package var description: String { uuid.uuidString.lowercased() }

    package static func < (lhs: HostID, rhs: HostID) -> Bool { lhs.description < rhs.description }
}
