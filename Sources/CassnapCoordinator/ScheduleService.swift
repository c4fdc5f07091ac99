import CassnapAPI
import CassnapCore
import CassnapObjectStore
import CassnapRepository
import Foundation
import Logging

/// Recurring cluster snapshots: definitions kept in the bucket (`schedules/<name>.json`, the
/// truth `catalog rebuild` restores) and in the catalog with their run state; runs started when
/// due; retention applied after each complete run, with the prune code of `cassnap prune`.
///
/// Missed runs: of the run times that passed while the coordinator was down, the latest is
/// taken once, at start, when it was due at most `schedules.catch_up_seconds` ago (default
/// 1 h); otherwise it is skipped with a warning. Either way several missed runs collapse into
/// at most one, and the next run is planned from now.
package struct ScheduleService: Sendable {
    let catalog: any ScheduleCatalog
    let snapshots: SnapshotService
    let settings: CoordinatorConfiguration.Schedules
    let logger: Logger

    package init(
        catalog: any ScheduleCatalog, snapshots: SnapshotService,
        settings: CoordinatorConfiguration.Schedules,
        logger: Logger
    ) {
        self.catalog = catalog
        self.snapshots = snapshots
        self.settings = settings
        self.logger = logger
    }

    var keys: ObjectKeys { snapshots.keys }
    var store: any ObjectStore { snapshots.store }

    // MARK: Definitions

    /// Checks the whole request before anything is written; the bucket document first, then
    /// the catalog row (the bucket is the truth a rebuild reads).
    package func create(_ request: AdminAPI.CreateSchedule, now: Date) async throws -> ScheduleState {
        let name: ScheduleName
        do { name = try ScheduleName(request.name) } catch {
            throw ServiceError.invalidField("name", error.description)
        }
        let recurrence: Schedule.Recurrence
        switch (request.cron, request.everySeconds) {
        case (let text?, nil):
            do { recurrence = .cron(try CronExpression(text)) } catch {
                throw ServiceError.invalidField("cron", error.description)
            }
        case (nil, let every?):
            guard every.isFinite, every >= 60, every <= 366 * 86_400 else {
                throw ServiceError.invalidField("everySeconds", "\(every) is not 60 s to 366 days")
            }
            recurrence = .every(every)
        default:
            throw ServiceError.invalidField("cron", "give exactly one of cron and everySeconds")
        }
        let keyspaces = request.keyspaces ?? []
        let tables = request.tables ?? []
        try SnapshotService.checkScope(keyspaces: keyspaces, tables: tables)
        if let keepLast = request.keepLast, !(1...100_000).contains(keepLast) {
            throw ServiceError.invalidField("keepLast", "\(keepLast) is not 1 to 100000")
        }
        if let within = request.keepWithinSeconds,
            let problem = InputLimits.problem(seconds: within, maximum: 10 * 366 * 86_400)
        {
            throw ServiceError.invalidField("keepWithinSeconds", problem)
        }
        guard try await catalog.schedule(name) == nil else {
            throw ServiceError.conflict(
                "schedule_exists", "a schedule named \(name.rawValue.quotedForMessage) exists")
        }
        let schedule = Schedule(
            cluster: keys.cluster, name: name, recurrence: recurrence, keyspaces: keyspaces, tables: tables,
            keepLast: request.keepLast, keepWithinSeconds: request.keepWithinSeconds, createdAt: now)
        try await save(schedule, nextRunAt: schedule.nextRun(after: now))
        logger.info(
            "Schedule created",
            metadata: [
                "schedule.name": "\(name)", "schedule.recurrence": "\(schedule.recurrenceDescription)",
            ])
        return try await state(name)
    }

    package func list() async throws -> [ScheduleState] { try await catalog.schedules() }

    package func state(_ name: ScheduleName) async throws -> ScheduleState {
        guard let state = try await catalog.schedule(name) else {
            throw ServiceError.notFound("schedule", name.rawValue)
        }
        return state
    }

    /// Paused schedules do not run; resuming plans the next run from now (runs missed while
    /// paused are not caught up).
    package func setPaused(_ name: ScheduleName, _ paused: Bool, now: Date) async throws -> ScheduleState {
        var schedule = try await state(name).schedule
        schedule.paused = paused
        try await save(schedule, nextRunAt: paused ? nil : schedule.nextRun(after: now))
        logger.info(paused ? "schedule paused" : "schedule resumed", metadata: ["schedule.name": "\(name)"])
        return try await state(name)
    }

    /// Its snapshots stay (delete or prune them as any other).
    package func delete(_ name: ScheduleName) async throws -> ScheduleState {
        let existing = try await state(name)
        do { try await store.delete(key: keys.key(for: .schedule(name: name))) } catch {
            throw ServiceError.unavailable("cannot delete schedule \(name) from the bucket: \(error)")
        }
        _ = try await catalog.deleteSchedule(name)
        logger.info("Schedule deleted", metadata: ["schedule.name": "\(name)"])
        return existing
    }

    private func save(_ schedule: Schedule, nextRunAt: Date?) async throws {
        do {
            _ = try await store.put(
                key: keys.key(for: .schedule(name: schedule.name)), source: .bytes(Array(schedule.encoded())))
        } catch {
            throw ServiceError.unavailable("cannot write schedule \(schedule.name) to the bucket: \(error)")
        }
        try await catalog.saveSchedule(schedule, nextRunAt: nextRunAt)
    }

    // MARK: Runs

    /// Starts due runs, then applies retention after runs that completed. Errors are logged;
    /// the next tick tries again.
    package func tick(now: Date) async {
        let states: [ScheduleState]
        do { states = try await catalog.schedules() } catch {
            logger.error("Cannot read schedules", metadata: ["error.message": "\(error)"])
            return
        }
        for state in states {
            do {
                if !state.schedule.paused, let due = state.nextRunAt, due <= now {
                    try await run(state.schedule, due: due, now: now)
                }
                try await retainAfterLastRun(state, now: now)
            } catch {
                logger.error(
                    "Schedule run failed",
                    metadata: ["schedule.name": "\(state.schedule.name)", "error.message": "\(error)"])
            }
        }
    }

    private func run(_ schedule: Schedule, due firstDue: Date, now: Date) async throws {
        let next = schedule.nextRun(after: now)
        // Of several run times missed while down, only the latest can be caught up.
        let due = schedule.latestRun(from: firstDue, atOrBefore: now) ?? firstDue
        let late = now.timeIntervalSince(due)
        guard late <= max(settings.catchUpSeconds, 60) else {
            logger.warning(
                "Schedule run missed: it was due too long ago to catch up; the next run is planned",
                metadata: [
                    "schedule.name": "\(schedule.name)", "schedule.due": "\(InstantFormat.format(due))",
                    "schedule.next": "\(next.map(InstantFormat.format) ?? "none")",
                    "hint": "schedules.catch_up_seconds is \(Int(settings.catchUpSeconds))",
                ])
            try await catalog.recordScheduleRun(schedule.name, at: due, snapshot: nil, nextRunAt: next)
            return
        }
        let request = AdminAPI.CreateSnapshot(
            delaySeconds: settings.leadSeconds, keyspaces: schedule.keyspaces, tables: schedule.tables,
            tag: schedule.tag(at: due).rawValue)
        do {
            let created = try await snapshots.create(request, now: Date())
            try await catalog.recordScheduleRun(
                schedule.name, at: due, snapshot: created.summary.id, nextRunAt: next)
            logger.info(
                "Schedule run started",
                metadata: [
                    "schedule.name": "\(schedule.name)", "snapshot.tag": "\(created.summary.tag)",
                    "schedule.next": "\(next.map(InstantFormat.format) ?? "none")",
                ])
        } catch let error as ServiceError {
            // No live node, or the tag exists (a rebuilt catalog): this run cannot be taken.
            logger.warning(
                "Schedule run not started",
                metadata: ["schedule.name": "\(schedule.name)", "error.message": "\(error.message)"])
            try await catalog.recordScheduleRun(schedule.name, at: due, snapshot: nil, nextRunAt: next)
        }
    }

    /// Retention after a successful run only: a partial or failed run keeps everything.
    private func retainAfterLastRun(_ state: ScheduleState, now: Date) async throws {
        guard let last = state.lastSnapshotID, last != state.retainedAfter else { return }
        guard let detail = try await snapshots.catalog.detail(last) else {
            try await catalog.recordRetention(
                state.schedule.name, after: last, result: "not applied: the last run's snapshot is gone",
                at: now)
            return
        }
        switch detail.summary.status {
        case .pending: return
        case .partial, .failed:
            try await catalog.recordRetention(
                state.schedule.name, after: last,
                result: "not applied: the last run is \(detail.summary.status.rawValue)", at: now)
        case .complete:
            let result = try await applyRetention(state.schedule, now: now)
            try await catalog.recordRetention(state.schedule.name, after: last, result: result, at: now)
        }
    }

    /// Expires this schedule's snapshots by its rules (others are never touched), deletes them
    /// as `snapshot delete` does, then sweeps the pool as `cassnap prune` does.
    func applyRetention(_ schedule: Schedule, now: Date) async throws -> String {
        let policy = RetentionPolicy(keepLast: schedule.keepLast, keepWithin: schedule.keepWithinSeconds)
        guard policy.keepLast != nil || policy.keepWithin != nil else { return "no retention rule" }
        // The bucket's records decide, as for `cassnap prune`: bring them up to the catalog first.
        await snapshots.mirror.flush()
        let listing = try await snapshots.repository.clusterSnapshots()
        if let (key, error) = listing.unreadable.first {
            logger.error(
                "Retention stopped: a cluster snapshot record is unreadable",
                metadata: [
                    "schedule.name": "\(schedule.name)", "object.key": "\(key)", "error.message": "\(error)",
                ])
            return "not applied: \(key) is unreadable"
        }
        let expired = policy.expired(listing.records.filter { schedule.owns($0.tag) }, now: now)
        for record in expired { _ = try await snapshots.delete(record.id) }
        let report = try await snapshots.repository.sweepPool(
            expired: Set(expired.map(\.tag)), hosts: Set(listing.records.flatMap { $0.nodes.map(\.hostID) }),
            grace: settings.pruneGraceSeconds, now: now, dryRun: false)
        let result =
            "deleted \(expired.count) snapshots"
            + (expired.isEmpty ? "" : " (\(expired.map(\.tag.rawValue).joined(separator: ", ")))")
            + ", \(report.poolObjects) pool objects (\(report.poolBytes) bytes); spared \(report.sparedYoung) younger than the grace"
        logger.info(
            "Schedule retention applied",
            metadata: ["schedule.name": "\(schedule.name)", "retention.result": "\(result)"])
        return result
    }
}
