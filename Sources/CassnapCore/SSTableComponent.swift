/// One file of an SSTable; the raw value is the suffix Cassandra writes after the last `-`.
package enum SSTableComponent: String, CaseIterable, Sendable, Hashable, Codable {
    case data = "Data.db"
    case primaryIndex = "Index.db"
    case summary = "Summary.db"
    case filter = "Filter.db"
    case statistics = "Statistics.db"
    case compressionInfo = "CompressionInfo.db"
    case digestCRC32 = "Digest.crc32"
    case digestAdler32 = "Digest.adler32"
    case digestSHA1 = "Digest.sha1"
    case tableOfContents = "TOC.txt"
    case crc = "CRC.db"
    /// BTI (5.0) replaces Index.db and Summary.db with a partition trie and a row trie.
    case partitions = "Partitions.db"
    case rows = "Rows.db"

    /// Whether an SSTable of `format` can have this component.
    package func belongs(to format: SSTableFormat) -> Bool {
        switch self {
        case .partitions, .rows: format == .bti
        case .primaryIndex, .summary: format != .bti
        default: true
        }
    }
}
