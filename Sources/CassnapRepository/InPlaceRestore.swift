import CassnapCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension RestorePlan {
    /// The same files laid out for the node's own data directory, `<keyspace>/<table-dir>/…`:
    /// without the host-ID level, and without the node files (`tokens.json` has no place in a
    /// data directory; the summary prints the tokens instead).
    package func inPlace() -> RestorePlan {
        let prefix = "\(directoryName)/"
        var plan = self
        plan.directoryName = ""
        plan.entries = entries.compactMap { entry in
            let relative = entry.path.dropFirst(prefix.count)
            guard entry.path.hasPrefix(prefix), relative.contains("/") else { return nil }
            return Entry(path: String(relative), file: entry.file)
        }
        return plan
    }
}

extension RestorePlan {
    /// The same files under `DIR/<name>/` instead of `DIR/<host-id>/`: `--host-map OLD=NEW`,
    /// restoring onto the nodes of another cluster of the same size.
    package func placed(under name: String) throws(RepositoryError) -> RestorePlan {
        do { try RestorePath.validate(fileName: name) } catch {
            throw .unsafeTarget(path: name, detail: "not a directory name: \(error.description)")
        }
        let prefix = "\(directoryName)/"
        var plan = self
        plan.directoryName = name
        plan.entries = entries.map {
            Entry(path: name + "/" + $0.path.dropFirst(prefix.count), file: $0.file)
        }
        return plan
    }
}

/// The checks `restore --in-place DATA_DIR` makes before it writes into a node's data
/// directory, and the one change it makes besides writing files: with `--force`, files that the
/// snapshot does not hold are moved aside, never deleted.
package enum InPlaceRestore {
    /// A process that holds the data directory.
    package struct Holder: Sendable, Hashable, CustomStringConvertible {
        package var pid: Int32
        package var command: String
        /// What it holds under the directory, or why it could not be looked at.
        package var evidence: String
        package var description: String { "process \(pid) (\(command)): \(evidence)" }
    }

    /// Every process with an open file, a mapping or its working directory under `directory`,
    /// and every Cassandra process (`CassandraDaemon`) whose files this user cannot inspect:
    /// refusing on a doubt is the safe answer while a node may still be running.
    package static func holders(of directory: String, proc: String = "/proc") -> [Holder] {
        let root = directory.hasSuffix("/") ? directory : directory + "/"
        func under(_ path: String) -> Bool { path == directory || path.hasPrefix(root) }
        let me = getpid()
        var holders: [Holder] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? [] {
            guard let pid = Int32(name), pid != me else { continue }
            let base = "\(proc)/\(name)"
            let cmdline =
                (try? Data(contentsOf: URL(fileURLWithPath: base + "/cmdline")))
                .map { String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\0", with: " ") } ?? ""
            let command = String(cmdline.prefix(120)).trimmingCharacters(in: .whitespaces)
            var evidence: String?
            if let cwd = link(base + "/cwd"), under(cwd) { evidence = "working directory \(cwd)" }
            let fds = try? FileManager.default.contentsOfDirectory(atPath: base + "/fd")
            for fd in fds ?? [] where evidence == nil {
                if let target = link(base + "/fd/" + fd), under(target) { evidence = "open file \(target)" }
            }
            if evidence == nil, let maps = try? String(contentsOfFile: base + "/maps", encoding: .utf8) {
                for line in maps.split(separator: "\n") {
                    guard let slash = line.firstIndex(of: "/") else { continue }
                    let path = String(line[slash...])
                    if under(path) {
                        evidence = "mapped file \(path)"
                        break
                    }
                }
            }
            if evidence == nil, fds == nil, cmdline.contains("CassandraDaemon") {
                evidence = "a Cassandra process whose open files this user cannot read"
            }
            if let evidence { holders.append(Holder(pid: pid, command: command, evidence: evidence)) }
        }
        return holders.sorted { $0.pid < $1.pid }
    }

    /// For each table directory the plan writes to: the regular files in it (index directories
    /// included) that the plan does not restore to that very path.
    package static func foreignFiles(of plan: RestorePlan, in dataDirectory: String) -> [String] {
        let restored = Set(plan.entries.map(\.path))
        var foreign: [String] = []
        for table in plan.tableDirectories {
            var stack = [table]
            while let relative = stack.popLast() {
                let names =
                    (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/" + relative))
                    ?? []
                for name in names.sorted() {
                    let path = relative + "/" + name
                    switch TargetDirectory.kind(dataDirectory + "/" + path) {
                    case .directory where name == "snapshots" || name == "backups": continue
                    case .file where name.hasSuffix(".cassnap-restore"): continue  // a killed run's staging
                    case .directory: stack.append(path)
                    case .file, .symlink, .other: if !restored.contains(path) { foreign.append(path) }
                    case .missing: continue
                    }
                }
            }
        }
        return foreign.sorted()
    }

    /// Moves `files` (relative to `dataDirectory`) below `<dataDirectory>/.cassnap-displaced-<stamp>/`,
    /// keeping their relative paths, and answers that directory. Same file system: a rename.
    package static func displace(_ files: [String], in dataDirectory: String, now: Date = Date()) throws
        -> String
    {
        let stamp = InstantFormatForPaths.stamp(now)
        let aside = dataDirectory + "/.cassnap-displaced-" + stamp
        for file in files {
            let destination = aside + "/" + file
            try FileManager.default.createDirectory(
                atPath: (destination as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o750])
            guard rename(dataDirectory + "/" + file, destination) == 0 else {
                throw RepositoryError.unsafeTarget(
                    path: dataDirectory + "/" + file,
                    detail: "cannot move it aside to \(destination): \(String(cString: strerror(errno)))")
            }
        }
        return aside
    }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `20240501T020000Z`: an instant as a path segment (no colons).
enum InstantFormatForPaths {
    static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
