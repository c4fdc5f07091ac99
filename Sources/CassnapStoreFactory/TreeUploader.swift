import CassnapObjectStore
import Foundation

/// Uploads every regular file below a directory to a store, `transfers` at a time, keys being
/// `<prefix>/<path relative to the directory>`. The operator's `cassnap store copy` and the
/// upload benchmark use it.
package struct TreeUploader: Sendable {
    package struct Summary: Sendable {
        package var files = 0
        package var bytes: Int64 = 0
        package var failures: [(path: String, error: String)] = []
    }

    package let store: any ObjectStore
    package var transfers: Int = 4

    package init(store: any ObjectStore, transfers: Int = 4) {
        self.store = store
        self.transfers = max(1, transfers)
    }

    package func upload(directory: String, prefix: String) async throws -> Summary {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw ObjectStoreError.localFile(path: base, reason: "cannot read the directory")
        }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            var st = stat()
            if lstat(base + "/" + relative, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                files.append(relative)
            }
        }
        files.sort()
        let cleanPrefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var summary = Summary()
        try await withThrowingTaskGroup(of: (String, Result<ObjectInfo, any Error>).self) { group in
            var next = 0
            func launch() {
                let relative = files[next]
                next += 1
                let key = cleanPrefix.isEmpty ? relative : cleanPrefix + "/" + relative
                group.addTask {
                    do {
                        return (
                            relative,
                            .success(try await store.put(key: key, source: .file(base + "/" + relative)))
                        )
                    } catch {
                        return (relative, .failure(error))
                    }
                }
            }
            while next < files.count && next < transfers { launch() }
            while let (path, result) = try await group.next() {
                switch result {
                case .success(let info):
                    summary.files += 1
                    summary.bytes += info.size
                case .failure(let error):
                    summary.failures.append((path, "\(error)"))
                }
                if next < files.count { launch() }
            }
        }
        return summary
    }
}
