import CassnapObjectStore

/// A real store with hooks that run at chosen moments of a request (fault injection):
/// `afterPut` once a put has stored its bytes and before the caller hears of it, and
/// `duringListing` after a listing has been read but before its pages are handed over, two
/// entries at a time.
final class HookedStore: ObjectStore, Sendable {
    let base: any ObjectStore
    let afterPut: @Sendable (_ key: String, _ source: ObjectSource) async throws -> Void
    let duringListing: @Sendable () async throws -> Void

    init(
        _ base: any ObjectStore,
        afterPut: @escaping @Sendable (_ key: String, _ source: ObjectSource) async throws -> Void = { _, _ in
        },
        duringListing: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.base = base
        self.afterPut = afterPut
        self.duringListing = duringListing
    }

    var displayName: String { base.displayName }
    func put(key: String, source: ObjectSource, options: PutOptions) async throws -> ObjectInfo {
        let info = try await base.put(key: key, source: source, options: options)
        try await afterPut(key, source)
        return info
    }
    func head(key: String) async throws -> ObjectInfo { try await base.head(key: key) }
    func get(key: String, to localPath: String) async throws -> ObjectInfo {
        try await base.get(key: key, to: localPath)
    }
    func read(key: String, into target: ReadTarget) async throws -> ObjectRead {
        try await base.read(key: key, into: target)
    }
    func list(prefix: String) async throws -> [ObjectInfo] { try await base.list(prefix: prefix) }
    func listPages(prefix: String, _ page: ([ObjectInfo]) async throws -> Void) async throws {
        let listing = try await base.list(prefix: prefix)
        try await duringListing()
        for start in stride(from: 0, to: listing.count, by: 2) {
            try await page(Array(listing[start..<min(start + 2, listing.count)]))
        }
    }
    func delete(key: String) async throws { try await base.delete(key: key) }
    func delete(keys: [String]) async throws { try await base.delete(keys: keys) }
}
