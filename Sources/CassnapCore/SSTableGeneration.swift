/// The part of an SSTable name that tells SSTables of one table apart.
///
/// Integers (every version) are reused after a node is wiped, which is why object keys need a
/// collision scheme; Cassandra 4.1+ with `uuid_sstable_identifiers_enabled` writes 28-character
/// time-ordered ids instead (`3fw2_0tu3_1y3ck2ib0zhqmj3cg1`: base-36 parts `4_4_18`).
package enum SSTableGeneration: Sendable, Hashable, CustomStringConvertible {
    case sequence(Int)
    case uuidBased(String)

    package static let uuidBasedLength = 28

    package var description: String {
        switch self {
        case .sequence(let number): String(number)
        case .uuidBased(let id): id
        }
    }

    /// Parses the generation token; on failure returns why, so the caller can name the file.
    static func parse(_ token: Substring) throws(Problem) -> SSTableGeneration {
        let bytes = Array(token.utf8)
        if bytes.isEmpty { throw Problem("is empty") }
        if bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Cassandra never writes a leading zero; accepting one would break round-tripping.
            if bytes.count > 1 && bytes[0] == UInt8(ascii: "0") { throw Problem("has a leading zero") }
            guard let number = Int(token) else { throw Problem("does not fit in 64 bits") }
            return .sequence(number)
        }
        guard bytes.contains(UInt8(ascii: "_")) else {
            throw Problem("is neither an integer nor a 28-character time-ordered id")
        }
        guard bytes.count == uuidBasedLength else {
            throw Problem("has \(bytes.count) characters, but a time-ordered id has 28")
        }
        for (offset, byte) in bytes.enumerated() {
            let isSeparatorPosition = offset == 4 || offset == 9
            if isSeparatorPosition {
                if byte != UInt8(ascii: "_") {
                    throw Problem("lacks the \"_\" at positions 5 and 10 of a time-ordered id")
                }
            } else if !isBase36(byte) {
                throw Problem("has characters other than lowercase base-36 digits between its \"_\"")
            }
        }
        return .uuidBased(String(token))
    }

    struct Problem: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private static func isBase36(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }
}
