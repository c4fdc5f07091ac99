import Foundation

/// A table's ID (`system_schema.tables.id`). Table directories carry it as 32 hex digits;
/// manifests carry the dashed form operators see in cqlsh.
package struct TableID: Sendable, Hashable, StringCodable {
    package let uuid: UUID

    package init(_ uuid: UUID) { self.uuid = uuid }

    /// Accepts the dashed form (any case) or the 32-digit directory form (lowercase).
    package init(_ string: String) throws(ValidationError) {
        if let uuid = UUID(uuidString: string) {
            self.uuid = uuid
            return
        }
        guard string.utf8.count == 32, string.utf8.allSatisfy(CassandraName.isLowercaseHex) else {
            throw .invalid(
                field: .tableID, value: string, reason: "neither a UUID nor 32 lowercase hex digits")
        }
        let hex = Array(string)
        let dashed = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
        self.uuid = UUID(uuidString: dashed)!
    }

    /// The form in table directory names, e.g. `5a1c395e78ef11eebd8a8f5e2d8b3a63`.
    package var directoryForm: String { description.replacingOccurrences(of: "-", with: "") }

    package var description: String { uuid.uuidString.lowercased() }
}
