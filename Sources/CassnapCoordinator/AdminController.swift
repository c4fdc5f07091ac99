import CassnapAPI
import CassnapCore
import Foundation
import Hummingbird

/// The endpoints the CLI calls (admin token): cluster snapshots, nodes, live SSTables and the
/// catalog rebuild. `{id}` is a snapshot id or tag; `{node}` a host ID or hostname.
struct AdminController<Context: RequestContext> {
    /// The rebuild and schedule parts are for `catalog rebuild`, which hands it to `rebuilder`.
    let catalog: any NodeCatalog & SnapshotCatalog & QueryCatalog & RebuildCatalog & ScheduleCatalog
    let snapshots: SnapshotService
    let rebuilder: CatalogRebuilder
    let bodies: BodyGate
    let repositoryInfo: AdminAPI.RepositoryInfo

    func addRoutes(to routes: RouteRegistrar<Context>) {
        routes.on(.post, "/snapshots", use: create)
        routes.on(.get, "/snapshots", use: list)
        routes.on(.get, "/snapshots/{id}", use: show)
        routes.on(.delete, "/snapshots/{id}", use: delete)
        routes.on(.get, "/snapshots/{id}/sstables", use: sstables)
        routes.on(.get, "/nodes", use: nodes)
        routes.on(.get, "/nodes/{node}/sstables", use: liveSSTables)
        routes.on(.get, "/nodes/{node}/point-in-time", use: pointInTime)
        routes.on(.get, "/node-snapshots", use: nodeSnapshots)
        routes.on(.post, "/catalog/rebuild", use: rebuild)
        routes.on(.get, "/repository", use: repository)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.SnapshotDetail
    > {
        let body = try await request.decodeJSON(
            AdminAPI.CreateSnapshot.self, limit: BodyLimit.admin, gate: bodies)
        return JSONReply(try await snapshots.create(body, now: Date()), status: .created)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.Page<AdminAPI.SnapshotSummary>
    > {
        let page = try request.pageRequest(.snapshots, key: SnapshotListKey.self)
        return JSONReply(try await catalog.summaries(page: page).reply)
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.SnapshotDetail
    > {
        let id = try await snapshotID(context)
        guard let detail = try await catalog.detail(id) else { throw APIError.notFound("snapshot", "\(id)") }
        return JSONReply(detail)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.SnapshotSummary
    > {
        let id = try await snapshotID(context)
        guard let summary = try await snapshots.delete(id) else {
            throw APIError.notFound("snapshot", "\(id)")
        }
        return JSONReply(summary)
    }

    @Sendable func sstables(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.Page<AdminAPI.SnapshotSSTable>
    > {
        let page = try request.pageRequest(.snapshotSSTables, key: SSTableKey.self)
        let id = try await snapshotID(context)
        let query = request.uri.queryParameters
        var filter = SSTableFilter()
        if let node = query["node"].map(String.init) {
            guard let host = try await catalog.resolveNode(node) else {
                throw APIError.notFound("node", node)
            }
            filter.host = host
        }
        if let keyspace = query["keyspace"].map(String.init) {
            guard CassandraName.isValid(keyspace) else {
                throw APIError.invalidField("keyspace", "\(keyspace.debugDescription) is not a keyspace name")
            }
            filter.keyspace = keyspace
        }
        if let table = query["table"].map(String.init) {
            // `ks.table`, or a bare table name.
            let parts = table.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard (1...2).contains(parts.count), parts.allSatisfy({ CassandraName.isValid($0) }) else {
                throw APIError.invalidField(
                    "table", "\(table.debugDescription) is not <keyspace>.<table> or <table>")
            }
            if parts.count == 2 {
                if let keyspace = filter.keyspace, keyspace != parts[0] {
                    throw APIError.invalidField("table", "\(table) is not in keyspace \(keyspace)")
                }
                filter.keyspace = parts[0]
            }
            filter.table = parts.last
        }
        // A cursor of another filter would skip or repeat SSTables.
        if let after = page.after,
            filter.host.map({ $0.description != after.host }) ?? false
                || filter.keyspace.map({ $0 != after.keyspace }) ?? false
                || filter.table.map({ $0 != after.table }) ?? false
        {
            throw APIError.invalidField(
                "after", "the cursor belongs to another node, keyspace or table filter than this request's")
        }
        return JSONReply(try await catalog.sstables(id, filter: filter, page: page).reply)
    }

    @Sendable func nodes(_ request: Request, context: Context) async throws -> JSONReply<[AdminAPI.Node]> {
        JSONReply(try await catalog.nodes())
    }

    @Sendable func liveSSTables(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.Page<AdminAPI.LiveSSTable>
    > {
        let page = try request.pageRequest(.liveSSTables, key: LiveSSTableKey.self)
        let (host, instant) = try await nodeAndInstant(request, context)
        return JSONReply(try await catalog.liveSSTables(host, at: instant, page: page).reply)
    }

    @Sendable func pointInTime(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.PointInTime
    > {
        let (host, instant) = try await nodeAndInstant(request, context)
        do {
            guard let answer = try await catalog.pointInTimeManifest(host, at: instant) else {
                throw APIError.notFound("node", host.description)
            }
            return JSONReply(answer)
        } catch let error as PointInTimeError {
            switch error {
            case .notCovered: throw APIError.conflict("history_gap", error.description)
            case .incomplete: throw APIError.conflict("incomplete_sstables", error.description)
            }
        }
    }

    /// `{node}` and `?at=`, both required.
    private func nodeAndInstant(_ request: Request, _ context: Context) async throws -> (HostID, Date) {
        let ref = context.parameters.get("node") ?? ""
        guard let text = request.uri.queryParameters["at"].map(String.init) else {
            throw APIError.invalidField("at", "the instant is required, e.g. ?at=2026-11-23T02:00:00Z")
        }
        guard let instant = InstantFormat.parse(text) else {
            throw APIError.invalidField(
                "at", "\(text.debugDescription) is not an ISO 8601 instant such as 2026-11-23T02:00:00Z")
        }
        guard let host = try await catalog.resolveNode(ref), try await catalog.isRegistered(host) else {
            throw APIError.notFound("node", ref)
        }
        return (host, instant)
    }

    @Sendable func nodeSnapshots(_ request: Request, context: Context) async throws -> JSONReply<
        [AdminAPI.OperatorSnapshot]
    > {
        var host: HostID?
        if let ref = request.uri.queryParameters["node"].map(String.init) {
            guard let resolved = try await catalog.resolveNode(ref) else {
                throw APIError.notFound("node", ref)
            }
            host = resolved
        }
        return JSONReply(try await catalog.nodeSnapshots(host))
    }

    @Sendable func rebuild(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.RebuildResult
    > {
        JSONReply(try await rebuilder.rebuild(into: catalog))
    }

    @Sendable func repository(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.RepositoryInfo
    > {
        JSONReply(
            AdminAPI.RepositoryInfo(
                store: repositoryInfo.store, cluster: repositoryInfo.cluster))
    }

    private func snapshotID(_ context: Context) async throws -> SnapshotID {
        let ref = context.parameters.get("id") ?? ""
        guard let id = try await catalog.resolveSnapshot(ref) else {
            throw APIError.notFound("snapshot", ref)
        }
        return id
    }
}
