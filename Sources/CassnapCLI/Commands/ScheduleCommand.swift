import ArgumentParser
import CassnapAPI
import CassnapClient
import CassnapCore
import Foundation

/// `cassnap schedule`: recurring cluster snapshots run by the coordinator, with retention.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Recurring cluster snapshots, with retention after each complete run.",
        discussion: """
            The coordinator runs each schedule as a cluster snapshot tagged <name>.<yyyyMMddTHHmmssZ> \
            (UTC) and, after a complete run, deletes this schedule's snapshots that --keep-last and \
            --keep-within no longer keep, then sweeps the pool as `cassnap prune` does. A run missed \
            while the coordinator was down is taken once at start if it was due at most \
            schedules.catch_up_seconds ago (default 1 h), else skipped and logged. Cron \
            expressions are evaluated in UTC.
            """,
        subcommands: [Create.self, List.self, Show.self, Pause.self, Resume.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a schedule.")
        @Argument(help: "Name: letters, digits, _ and -.") var name: String
        @Option(help: "Five-field cron expression, UTC, e.g. \"0 2 * * *\".") var cron: String?
        @Option(help: "An interval instead of cron, e.g. 6h, 30m (at least 1m).") var every: String?
        @Option(help: "Only this keyspace; repeatable.") var keyspace: [String] = []
        @Option(help: "Only this table, as keyspace.table; repeatable.") var table: [String] = []
        @Option(
            name: .customLong("keep-last"), help: "Keep the newest N complete snapshots of this schedule.")
        var keepLast: Int?
        @Option(
            name: .customLong("keep-within"),
            help: "Keep this schedule's snapshots younger than this, e.g. 30d.")
        var keepWithin: String?
        @OptionGroup var options: CoordinatorOptions

        func validate() throws {
            if (cron == nil) == (every == nil) { throw ValidationError("give --cron or --every") }
        }

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let request = AdminAPI.CreateSchedule(
                    name: name, cron: cron,
                    everySeconds: try every.map { try FlagValues.duration($0, flag: "--every") },
                    keyspaces: keyspace, tables: table, keepLast: keepLast,
                    keepWithinSeconds: try keepWithin.map {
                        try FlagValues.duration($0, flag: "--keep-within")
                    })
                let info = try await session.client.createSchedule(request)
                if session.json { try session.printJSON(info) } else { print(ScheduleReport.detail(info)) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every schedule, with its last and next run.")
        @OptionGroup var options: CoordinatorOptions

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let schedules = try await session.client.schedules()
                if session.json {
                    try session.printJSON(schedules)
                } else {
                    print(ScheduleReport.table(schedules))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One schedule: recurrence, scope, retention, last and next run.")
        @Argument var name: String
        @OptionGroup var options: CoordinatorOptions

        func run() async throws {
            try await CoordinatorSession.run(options) { session in
                let info = try await session.client.schedule(name)
                if session.json { try session.printJSON(info) } else { print(ScheduleReport.detail(info)) }
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop running a schedule until resumed.")
        @Argument var name: String
        @OptionGroup var options: CoordinatorOptions

        func run() async throws {
            try await ScheduleReport.change(options) { try await $0.setSchedule(name, paused: true) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a paused schedule again; its next run is planned from now.")
        @Argument var name: String
        @OptionGroup var options: CoordinatorOptions

        func run() async throws {
            try await ScheduleReport.change(options) { try await $0.setSchedule(name, paused: false) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a schedule; its snapshots stay (prune or delete them as any other).")
        @Argument var name: String
        @OptionGroup var options: CoordinatorOptions

        func run() async throws {
            try await ScheduleReport.change(options) { try await $0.deleteSchedule(name) }
        }
    }
}

enum ScheduleReport {
    static func change(
        _ options: CoordinatorOptions,
        _ action: @Sendable (CoordinatorClient) async throws -> AdminAPI.ScheduleInfo
    ) async throws {
        try await CoordinatorSession.run(options) { session in
            let info = try await action(session.client)
            if session.json { try session.printJSON(info) } else { print(detail(info)) }
        }
    }

    static func recurrence(_ s: AdminAPI.ScheduleInfo) -> String {
        if let cron = s.cron { return "cron \(cron) (UTC)" }
        return "every \(DurationText.format(s.everySeconds ?? 0))"
    }

    static func retention(_ s: AdminAPI.ScheduleInfo) -> String {
        var rules: [String] = []
        if let n = s.keepLast { rules.append("keep the last \(n) complete") }
        if let w = s.keepWithinSeconds { rules.append("keep within \(DurationText.format(w))") }
        return rules.isEmpty ? "none (nothing expires)" : rules.joined(separator: ", ")
    }

    static func detail(_ s: AdminAPI.ScheduleInfo) -> String {
        var lines = [
            "schedule \(s.name)\(s.paused ? " (paused)" : "")",
            "  runs:       \(recurrence(s))",
            "  scope:      "
                + (s.keyspaces.isEmpty && s.tables.isEmpty
                    ? "every keyspace" : (s.keyspaces + s.tables).joined(separator: ", ")),
            "  retention:  \(retention(s))",
            "  next run:   \(s.paused ? "paused" : Format.instant(s.nextRunAt))",
            "  last run:   \(Format.instant(s.lastRunAt))"
                + (s.lastSnapshot.map { " → \($0.tag) \($0.status.rawValue)" } ?? ""),
            "  last complete snapshot: \(Format.instant(s.lastCompleteAt))",
        ]
        if let retention = s.lastRetention {
            lines.append("  last retention (\(Format.instant(s.lastRetentionAt))): \(retention)")
        }
        return lines.joined(separator: "\n")
    }

    static func table(_ schedules: [AdminAPI.ScheduleInfo]) -> String {
        guard !schedules.isEmpty else { return "no schedules" }
        var table = TextTable("NAME", "RUNS", "NEXT RUN", "LAST RUN", "LAST STATUS", "LAST COMPLETE")
        for s in schedules {
            table.add(
                s.name, recurrence(s), s.paused ? "paused" : Format.instant(s.nextRunAt),
                Format.instant(s.lastRunAt),
                s.lastSnapshot?.status.rawValue ?? "-", Format.instant(s.lastCompleteAt))
        }
        return table.render()
    }
}
