import Foundation

/// The coordinator's id for one cluster snapshot, rendered lowercase like every UUID cassnap
/// writes (Foundation's `uuidString` is uppercase).
package struct SnapshotID: Sendable, Hashable, StringCodable {
    package let uuid: UUID

    package init(_ uuid: UUID = UUID()) { self.uuid = uuid }

    package init(_ string: String) throws(ValidationError) {
        guard let uuid = UUID(uuidString: string) else {
            throw .invalid(field: .snapshotID, value: string, reason: "not a UUID")
        }
        self.uuid = uuid
    }

    package var description: String { uuid.uuidString.lowercased() }
}
