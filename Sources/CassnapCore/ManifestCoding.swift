import Foundation

/// The one JSON encoding for everything cassnap stores in the bucket: sorted keys and fixed
/// instants, so the same content always has the same bytes (and the same checksum).
package enum ManifestCoding {
    package static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(InstantFormat.format(date))
        }
        return encoder
    }

    package static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = InstantFormat.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription:
                        "\(text.quotedForMessage) is not an ISO 8601 instant like 2024-05-01T02:00:00.000Z")
            }
            return date
        }
        return decoder
    }

    /// Encodes with a trailing newline, as a text file should end.
    package static func encode(_ value: some Encodable) -> Data {
        // Strings, integers and dates cannot fail to encode; a failure here is a programming error.
        var data = try! encoder().encode(value)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Decodes `T`, turning Foundation's errors into one that names the document and field.
    package static func decode<T: Decodable>(_ type: T.Type, from data: Data, document: String)
        throws(ManifestError) -> T
    {
        do {
            return try decoder().decode(type, from: data)
        } catch let error as ManifestError {
            throw error
        } catch let error as DecodingError {
            throw .malformed(document: document, detail: describe(error))
        } catch {
            throw .malformed(document: document, detail: String(describing: error))
        }
    }

    /// Checks `formatVersion` before anything else, so a future document fails with a version
    /// error rather than a confusing missing-field error.
    static func checkFormatVersion(
        in decoder: any Decoder, document: String, supportedMajor: Int
    ) throws -> FormatVersion {
        let container = try decoder.container(keyedBy: VersionKey.self)
        let version = try container.decode(FormatVersion.self, forKey: .formatVersion)
        guard version.major == supportedMajor else {
            throw ManifestError.unsupportedFormatVersion(
                document: document, found: version, supportedMajor: supportedMajor)
        }
        return version
    }

    private enum VersionKey: String, CodingKey { case formatVersion }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }
                .joined()
            return text.isEmpty ? "the top level" : String(text.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "missing field \(key.stringValue.quotedForMessage) in \(parent)"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) is not a \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) is null, expected \(type)"
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { " (\($0))" } ?? ""
            return "\(path(context.codingPath)): \(context.debugDescription)\(underlying)"
        @unknown default:
            return String(describing: error)
        }
    }
}
