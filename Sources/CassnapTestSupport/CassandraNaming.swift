import Foundation

/// The fake's own reading of SSTable file names (deliberately independent of CassnapCore, so a
/// bug there cannot hide behind the same bug here).
struct ParsedSSTableName: Hashable {
    var version: String
    var id: String
    var formatName: String
    var component: String
    /// Everything before the component, e.g. `nb-42-big-` or `ks-t-ka-42-`.
    var prefix: String
    var isLegacy: Bool

    var generation: Int? { Int(id) }
}

enum CassandraNaming {
    static func parse(_ name: String) -> ParsedSSTableName? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        func isVersion(_ s: Substring) -> Bool {
            s.utf8.count == 2 && s.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
        }
        if parts.count == 4, isVersion(parts[0]), parts[2] == "big" || parts[2] == "bti",
            !parts[3].isEmpty, isIdentifier(parts[1])
        {
            return ParsedSSTableName(
                version: String(parts[0]), id: String(parts[1]), formatName: String(parts[2]),
                component: String(parts[3]), prefix: "\(parts[0])-\(parts[1])-\(parts[2])-",
                isLegacy: false)
        }
        if parts.count == 5, !parts[0].isEmpty, !parts[1].isEmpty, isVersion(parts[2]),
            isSequential(parts[3]), !parts[4].isEmpty
        {
            return ParsedSSTableName(
                version: String(parts[2]), id: String(parts[3]), formatName: "big",
                component: String(parts[4]), prefix: "\(parts[0])-\(parts[1])-\(parts[2])-\(parts[3])-",
                isLegacy: true)
        }
        return nil
    }

    static func isSequential(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    static func isIdentifier(_ s: Substring) -> Bool {
        if isSequential(s) { return true }
        let u = Array(s.utf8)
        guard u.count == 28, u[4] == UInt8(ascii: "_"), u[9] == UInt8(ascii: "_") else { return false }
        return u.enumerated().allSatisfy { i, c in
            i == 4 || i == 9 || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
        }
    }

    /// The file-name prefix of an SSTable.
    static func prefix(
        format: SSTableFixture.Format, id: String, keyspace: String, table: String, index: String?
    ) -> String {
        if format.usesLegacyLayout {
            let tableName = index.map { "\(table).\($0)" } ?? table
            return "\(keyspace)-\(tableName)-\(format.rawValue)-\(id)-"
        }
        return "\(format.rawValue)-\(id)-\(format.formatName)-"
    }

    /// Cassandra 4.1 `UUIDBasedSSTableId.asString()` for a time UUID made of `date` and `lsb`.
    static func timeUUIDIdentifier(date: Date, leastSignificantBits lsb: UInt64) -> String {
        // 100 ns intervals since 1582-10-15, the UUID v1 epoch.
        var ts = UInt64((date.timeIntervalSince1970 * 10_000_000).rounded()) &+ 0x01B2_1DD2_1381_4000
        let nanoPart = ts % 10_000_000
        ts /= 10_000_000
        let seconds = ts % 86_400
        ts /= 86_400
        func pad(_ value: UInt64, _ width: Int) -> String {
            let s = String(value, radix: 36)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(ts, 4))_\(pad(seconds, 4))_\(pad(nanoPart, 5))\(pad(lsb, 13))"
    }

    static func uuidString(hex: String) -> String {
        let c = Array(hex)
        guard c.count == 32 else { return hex }
        return [c[0..<8], c[8..<12], c[12..<16], c[16..<20], c[20..<32]].map { String($0) }.joined(
            separator: "-")
    }

    /// A version-1-looking table id (Cassandra generates time UUIDs for tables).
    static func tableID(_ rng: inout SeededGenerator) -> String {
        var bytes = rng.bytes(16)
        bytes[6] = (bytes[6] & 0x0F) | 0x10
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return bytes.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    /// A table directory name is `<table>-<32 hex id>`, or `<table>` before 2.1 (id "").
    static func splitTableDirectory(_ name: String) -> (table: String, id: String)? {
        guard let dash = name.lastIndex(of: "-") else {
            let isName =
                !name.isEmpty
                && name.utf8.allSatisfy {
                    ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95
                }
            return isName ? (name, "") : nil
        }
        let table = String(name[..<dash])
        let id = String(name[name.index(after: dash)...])
        guard !table.isEmpty, !table.hasPrefix("."), id.utf8.count == 32,
            id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { return nil }
        return (table, id)
    }

    // MARK: transaction logs

    /// `nb_txn_flush_<uuid>.log`, as `LogFile` names them.
    static func isTransactionLog(_ name: String) -> Bool {
        name.hasSuffix(".log") && name.contains("_txn_")
    }

    static func transactionLogName(version: String, operation: String) -> String {
        "\(version)_txn_\(operation)_\(UUID().uuidString.lowercased()).log"
    }

    /// One `LogRecord` line: `TYPE:[path,updateTime,numFiles][crc32 of the part before]`.
    static func transactionRecord(_ type: String, path: String, updateTime: Int, files: Int) -> String {
        let body = "\(type):[\(path),\(updateTime),\(files)]"
        return "\(body)[\(CRC32.checksum(Array(body.utf8)))]\n"
    }

    struct TransactionLog {
        var added: Set<String> = []
        var removed: Set<String> = []
        var committed = false
    }

    /// Reads a log; the SSTables are named by their prefix (the record's path basename).
    static func readTransactionLog(_ path: String) -> TransactionLog? {
        guard let text = try? FS.readText(path) else { return nil }
        var log = TransactionLog()
        for line in text.split(separator: "\n") {
            guard let open = line.range(of: ":["), let close = line.range(of: "][") else { continue }
            let type = line[..<open.lowerBound]
            let fields = line[open.upperBound..<close.lowerBound].split(
                separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 3 else { continue }
            let recordPath = fields.dropLast(2).joined(separator: ",")
            let prefix = String(recordPath.split(separator: "/").last ?? "")
            switch type {
            case "ADD": log.added.insert(prefix)
            case "REMOVE": log.removed.insert(prefix)
            case "COMMIT": log.committed = true
            default: break
            }
        }
        return log
    }
}
