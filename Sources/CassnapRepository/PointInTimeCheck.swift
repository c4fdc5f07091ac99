import CassnapCore
import Foundation

extension Repository {
    /// SSTables of `manifest` whose `TOC.txt` (read from the bucket) lists a component the
    /// manifest lacks, as `ks.table sstable lacks X, Y`. A snapshot holds what the disk held;
    /// a point-in-time manifest is assembled from the pool, so this is checked before any
    /// file is written.
    package func incompleteSSTables(in manifest: NodeManifest, concurrency: Int = 16) async throws -> [String]
    {
        var work: [(table: NodeManifest.Table, sstable: NodeManifest.SSTable, toc: NodeManifest.File?)] = []
        for table in manifest.tables {
            for sstable in table.sstables {
                work.append(
                    (table, sstable, sstable.files.first { $0.fileName == "\(sstable.name)-TOC.txt" }))
            }
        }
        return try await withThrowingTaskGroup(of: String?.self) { group in
            var problems: [String] = []
            var next = work.makeIterator()
            func add() -> Bool {
                guard let item = next.next() else { return false }
                group.addTask {
                    let name = "\(item.table.keyspace).\(item.table.table) \(item.sstable.name)"
                    guard let toc = item.toc else { return "\(name) lacks TOC.txt" }
                    let text = String(
                        decoding: try await self.readDocument(key: toc.objectKey), as: UTF8.self)
                    let present = Set(item.sstable.files.map(\.fileName))
                    let missing = text.split(whereSeparator: \.isNewline)
                        .map { $0.trimmingCharacters(in: .whitespaces) }
                        .filter { !$0.isEmpty && !present.contains("\(item.sstable.name)-\($0)") }
                    return missing.isEmpty ? nil : "\(name) lacks \(missing.joined(separator: ", "))"
                }
                return true
            }
            for _ in 0..<max(1, concurrency) where add() {}
            while let problem = try await group.next() {
                if let problem { problems.append(problem) }
                _ = add()
            }
            return problems.sorted()
        }
    }
}
