import CassnapCore
import Foundation

/// Decides whether a live SSTable is complete, from what Cassandra leaves on disk:
/// 1. no `*_txn_*.log` in its directory names it in an `ADD` record (a flush or compaction
///    writing it has not committed; Cassandra deletes the log right after `COMMIT`);
/// 2. its `TOC.txt` exists and every component it lists exists.
/// Hard links (snapshots, backups) are complete when they appear and never come here. The
/// uploader also re-checks size and mtime after hashing, which catches a file still growing.
/// Results are cached per directory until `invalidate`, since a storm asks about every file.
struct LiveSSTableGate {
    private struct DirectoryView {
        var names: Set<String>
        /// `ADD` paths of uncommitted transaction logs, as `<dir>/<sstable name>-`.
        var pendingPrefixes: [String]
    }

    private var views: [String: DirectoryView] = [:]

    mutating func invalidate(directory: String) { views[directory] = nil }
    mutating func invalidateAll() { views.removeAll(keepingCapacity: true) }

    mutating func isComplete(path: String, file: SSTableFileName) -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        let view = self.view(of: directory)
        let prefix = directory + "/" + file.sstableName + "-"
        if view.pendingPrefixes.contains(where: { $0 == prefix || prefix.hasPrefix($0) }) { return false }
        let toc = file.descriptor.fileName(for: .tableOfContents)
        guard view.names.contains(toc),
            let text = try? String(contentsOfFile: directory + "/" + toc, encoding: .utf8)
        else { return false }
        for line in text.split(whereSeparator: \.isNewline) {
            let component = line.trimmingCharacters(in: .whitespaces)
            if component.isEmpty { continue }
            if !view.names.contains(file.sstableName + "-" + component) { return false }
        }
        return true
    }

    private mutating func view(of directory: String) -> DirectoryView {
        if let view = views[directory] { return view }
        var names: Set<String> = []
        var pending: [String] = []
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in entries {
                names.insert(name)
                guard name.contains("_txn_"), name.hasSuffix(".log"),
                    let log = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)
                else { continue }
                if log.contains("COMMIT:") || log.contains("ABORT:") { continue }
                for line in log.split(whereSeparator: \.isNewline) where line.hasPrefix("ADD:[") {
                    let body = line.dropFirst("ADD:[".count)
                    guard let comma = body.firstIndex(of: ",") else { continue }
                    var added = String(body[..<comma])
                    // Records name either `<dir>/<sstable>-` or `<dir>/<sstable>-Data.db`.
                    if let dash = added.range(of: "-", options: .backwards), !added.hasSuffix("-") {
                        added = String(added[..<dash.upperBound])
                    }
                    pending.append(added)
                }
            }
        }
        let view = DirectoryView(names: names, pendingPrefixes: pending)
        views[directory] = view
        return view
    }
}
