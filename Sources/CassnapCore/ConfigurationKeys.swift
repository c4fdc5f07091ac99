/// A coding key for any name, to list the keys a YAML mapping holds.
package struct AnyCodingKey: CodingKey {
    package var stringValue: String
    package var intValue: Int?
    package init(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Rejects keys a configuration struct does not know, so a typo is an error naming the key
/// (and the known key it most likely meant) rather than a silently kept default. Both
/// programs' YAML files use it, and both spell keys in snake_case, as cassandra.yaml does.
package func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ decoder: any Decoder, _: K.Type) throws {
    let container = try decoder.container(keyedBy: AnyCodingKey.self)
    let known = K.allCases.map(\.stringValue)
    for key in container.allKeys where !known.contains(key.stringValue) {
        let hint =
            ConfigurationKeys.suggestion(for: key.stringValue, among: known).map { "did you mean \($0)? " }
            ?? ""
        throw DecodingError.dataCorrupted(
            DecodingError.Context(
                codingPath: decoder.codingPath + [key],
                debugDescription:
                    "unknown key; \(hint)(known here: \(known.sorted().joined(separator: ", ")))"))
    }
}

package enum ConfigurationKeys {
    /// The known key `name` most likely meant: the same letters in another case style
    /// (`dataDirectories` for `data_directories`), else one within two edits.
    package static func suggestion(for name: String, among known: [String]) -> String? {
        let folded = fold(name)
        if let same = known.first(where: { fold($0) == folded }) { return same }
        let scored = known.map { ($0, distance(folded, fold($0))) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 < $1.1 }?.0
    }

    private static func fold(_ s: String) -> [Character] {
        Array(s.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Levenshtein distance.
    private static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
