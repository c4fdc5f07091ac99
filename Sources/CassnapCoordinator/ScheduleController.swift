import CassnapAPI
import CassnapCore
import Foundation
import Hummingbird

/// `/v1/schedules` (admin token): recurring snapshots. `{name}` is a schedule name.
struct ScheduleController<Context: RequestContext> {
    let schedules: ScheduleService
    let catalog: any SnapshotCatalog
    let bodies: BodyGate

    func addRoutes(to routes: RouteRegistrar<Context>) {
        routes.on(.post, "/schedules", use: create)
        routes.on(.get, "/schedules", use: list)
        routes.on(.get, "/schedules/{name}", use: show)
        routes.on(.post, "/schedules/{name}/pause", use: pause)
        routes.on(.post, "/schedules/{name}/resume", use: resume)
        routes.on(.delete, "/schedules/{name}", use: delete)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.ScheduleInfo
    > {
        let body = try await request.decodeJSON(
            AdminAPI.CreateSchedule.self, limit: BodyLimit.admin, gate: bodies)
        return JSONReply(try await info(try await schedules.create(body, now: Date())), status: .created)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> JSONReply<
        [AdminAPI.ScheduleInfo]
    > {
        var infos: [AdminAPI.ScheduleInfo] = []
        for state in try await schedules.list() { infos.append(try await info(state)) }
        return JSONReply(infos)
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> JSONReply<AdminAPI.ScheduleInfo>
    {
        JSONReply(try await info(try await schedules.state(try name(context))))
    }

    @Sendable func pause(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.ScheduleInfo
    > {
        JSONReply(try await info(try await schedules.setPaused(try name(context), true, now: Date())))
    }

    @Sendable func resume(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.ScheduleInfo
    > {
        JSONReply(try await info(try await schedules.setPaused(try name(context), false, now: Date())))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> JSONReply<
        AdminAPI.ScheduleInfo
    > {
        JSONReply(try await info(try await schedules.delete(try name(context))))
    }

    private func name(_ context: Context) throws -> ScheduleName {
        let text = context.parameters.get("name") ?? ""
        do { return try ScheduleName(text) } catch { throw APIError.notFound("schedule", text) }
    }

    private func info(_ state: ScheduleState) async throws -> AdminAPI.ScheduleInfo {
        let s = state.schedule
        var cron: String?
        var every: Double?
        switch s.recurrence {
        case .cron(let expression): cron = expression.text
        case .every(let seconds): every = seconds
        }
        let last = try await state.lastSnapshotID.asyncMap { try await catalog.detail($0)?.summary } ?? nil
        return AdminAPI.ScheduleInfo(
            name: s.name.rawValue, cron: cron, everySeconds: every, keyspaces: s.keyspaces, tables: s.tables,
            keepLast: s.keepLast, keepWithinSeconds: s.keepWithinSeconds, paused: s.paused,
            createdAt: s.createdAt,
            nextRunAt: state.nextRunAt, lastRunAt: state.lastRunAt, lastSnapshot: last,
            lastCompleteAt: state.lastCompleteAt, lastRetention: state.lastRetention,
            lastRetentionAt: state.lastRetentionAt)
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
