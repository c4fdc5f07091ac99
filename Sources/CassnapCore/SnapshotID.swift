import Foundation

/// The coordinator's id for one cluster snapshot, rendered lowercase like every UUID cassnap
/// writes (Foundation's `uuidString` is uppercase).
package struct SnapshotID: Sendable, Hashable, Codable, CustomStringConvertible {
    package let uuid: UUID

    package init(_ uuid: UUID = UUID()) { self.uuid = uuid }

    package init(_ string: String) throws(ValidationError) {
        guard let uuid = UUID(uuidString: string) else {
            throw .invalid(field: .snapshotID, value: string, reason: "not a UUID")
        }
        self.uuid = uuid
    }

    package var description: String { uuid.uuidString.lowercased() }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do { try self.init(string) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
