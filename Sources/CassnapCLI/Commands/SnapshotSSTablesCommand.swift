import ArgumentParser
import CassnapAPI
import Foundation

extension SnapshotCommand {
    struct SSTables: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sstables",
            abstract:
                "The SSTables, on which nodes, that form one snapshot: components, sizes, checksums, keys.",
            discussion: """
                Fetched from the coordinator page by page and printed as each page arrives, so a set \
                of millions of SSTables starts printing at once and memory holds one page. The order \
                is node, keyspace, table, SSTable. Output: a table (columns sized by the first page), \
                --json one JSON array (the same text as printed at once), or --ndjson one compact \
                JSON object per SSTable per line.
                """)
        @OptionGroup var options: CoordinatorOptions
        @Argument(help: "Snapshot id or tag.") var id: String
        @Option(help: "Only this node (host ID or hostname).") var node: String?
        @Option(help: "Only this keyspace.") var keyspace: String?
        @Option(help: "Only this table (ks.table).") var table: String?
        @Flag(help: "Print one compact JSON object per SSTable per line (NDJSON) instead of a table.")
        var ndjson = false
        @Option(
            help: """
                SSTables per request, 1 to \(AdminAPI.PageLimit.snapshotSSTables.maximum) (default \
                \(AdminAPI.PageLimit.snapshotSSTables.defaultValue)).
                """)
        var pageSize: Int?

        func validate() throws {
            if let pageSize, !(1...AdminAPI.PageLimit.snapshotSSTables.maximum).contains(pageSize) {
                throw ValidationError(
                    "--page-size \(pageSize) is not from 1 to \(AdminAPI.PageLimit.snapshotSSTables.maximum)")
            }
        }

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let pages = session.client.snapshotSSTablePages(
                    id, node: node, keyspace: keyspace, table: table, limit: pageSize)
                if ndjson {
                    for try await page in pages {
                        guard !page.items.isEmpty else { continue }
                        write(try page.items.map(JSONOutput.compact).joined(separator: "\n") + "\n")
                    }
                } else if session.json {
                    var array = JSONOutput.ArrayStream(write: write)
                    for try await page in pages { try array.append(contentsOf: page.items) }
                    try array.finish()
                } else {
                    var printer = SnapshotReport.SSTableTable()
                    for try await page in pages {
                        if let text = printer.add(page.items) { write(text + "\n") }
                    }
                    write(printer.summary + "\n")
                }
            }
        }

        /// Straight to stdout: a page is out before the next one is requested.
        private func write(_ text: String) {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
