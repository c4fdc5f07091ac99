import Foundation

/// A schedule's name: 1–64 of `A-Z a-z 0-9 _ -`, starting with a letter or digit. It is the
/// first part of every snapshot tag the schedule makes, `<name>.<yyyyMMdd'T'HHmmss'Z'>`, so a
/// name can never claim another schedule's snapshots.
package struct ScheduleName: Sendable, Hashable, Comparable, StringCodable {
    package let rawValue: String

    package init(_ rawValue: String) throws(ValidationError) {
        let allowed = rawValue.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
                || $0 == "-"
        }
        guard (1...64).contains(rawValue.count), allowed, let first = rawValue.unicodeScalars.first,
            first != "_" && first != "-"
        else {
            throw .invalid(
                field: .scheduleName, value: rawValue,
                reason: "expected 1 to 64 letters, digits, _ or -, starting with a letter or digit")
        }
        self.rawValue = rawValue
    }

    package var description: String { rawValue }
    package static func < (a: ScheduleName, b: ScheduleName) -> Bool { a.rawValue < b.rawValue }
}

/// A recurring cluster snapshot (docs/FORMAT.md, `<cluster>/schedules/<name>.json`): when it
/// runs, what it takes, and how many of its snapshots are kept. The bucket copy is what
/// `catalog rebuild` brings back; when it last ran is the catalog's business.
package struct Schedule: Sendable, Hashable, Codable {
    package static let currentFormatVersion = FormatVersion(major: 1, minor: 0)
    static let document = "schedule"

    package enum Recurrence: Sendable, Hashable {
        case cron(CronExpression)
        /// Every this many seconds, counted from `createdAt`.
        case every(TimeInterval)
    }

    package var formatVersion: FormatVersion
    package var cluster: ClusterName
    package var name: ScheduleName
    package var recurrence: Recurrence
    package var keyspaces: [String]
    package var tables: [String]
    /// Retention after each complete run: the newest N complete snapshots of this schedule,
    /// and/or every one within this many seconds. Neither: nothing expires.
    package var keepLast: Int?
    package var keepWithinSeconds: TimeInterval?
    package var paused: Bool
    package var createdAt: Date

    package init(
        cluster: ClusterName, name: ScheduleName, recurrence: Recurrence, keyspaces: [String] = [],
        tables: [String] = [], keepLast: Int? = nil, keepWithinSeconds: TimeInterval? = nil,
        paused: Bool = false,
        createdAt: Date
    ) {
        formatVersion = Self.currentFormatVersion
        self.cluster = cluster
        self.name = name
        self.recurrence = recurrence
        self.keyspaces = keyspaces
        self.tables = tables
        self.keepLast = keepLast
        self.keepWithinSeconds = keepWithinSeconds
        self.paused = paused
        self.createdAt = InstantFormat.normalized(createdAt)
    }

    /// The first run strictly after `date`.
    package func nextRun(after date: Date) -> Date? {
        switch recurrence {
        case .cron(let cron): return cron.next(after: date)
        case .every(let seconds):
            guard seconds > 0 else { return nil }
            if date < createdAt { return createdAt.addingTimeInterval(seconds) }
            let periods = (date.timeIntervalSince(createdAt) / seconds).rounded(.down) + 1
            return InstantFormat.normalized(createdAt.addingTimeInterval(periods * seconds))
        }
    }

    /// The latest run time at or before `now`, starting from `due` (the first missed one):
    /// what a coordinator that was down catches up, if anything. Nil when more than 100,000
    /// run times were missed (then none is caught up).
    package func latestRun(from due: Date, atOrBefore now: Date) -> Date? {
        guard due <= now else { return nil }
        if case .every(let seconds) = recurrence, seconds > 0 {
            let periods = (now.timeIntervalSince(due) / seconds).rounded(.down)
            return InstantFormat.normalized(due.addingTimeInterval(periods * seconds))
        }
        var latest = due
        for _ in 0..<100_000 {
            guard let next = nextRun(after: latest), next <= now else { return latest }
            latest = next
        }
        return nil
    }

    private static let tagTime: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f
    }()

    /// The tag of the run at `instant`.
    package func tag(at instant: Date) -> SnapshotTag {
        // A name and a formatted date are always a valid segment.
        try! SnapshotTag("\(name).\(Self.tagTime.string(from: instant))")
    }

    /// Whether this schedule made the snapshot tagged `tag`.
    package func owns(_ tag: SnapshotTag) -> Bool {
        let prefix = "\(name)."
        guard tag.rawValue.hasPrefix(prefix) else { return false }
        return Self.tagTime.date(from: String(tag.rawValue.dropFirst(prefix.count))) != nil
    }

    package var recurrenceDescription: String {
        switch recurrence {
        case .cron(let cron): "cron \(cron)"
        case .every(let seconds): "every \(DurationText.format(seconds))"
        }
    }

    // MARK: Document

    private enum CodingKeys: String, CodingKey {
        case formatVersion, cluster, name, cron, everySeconds, keyspaces, tables, keepLast, keepWithinSeconds
        case paused, createdAt
    }

    package init(from decoder: any Decoder) throws {
        let version = try ManifestCoding.checkFormatVersion(
            in: decoder, document: Self.document, supportedMajor: Self.currentFormatVersion.major)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let cron = try c.decodeIfPresent(String.self, forKey: .cron)
        let every = try c.decodeIfPresent(Double.self, forKey: .everySeconds)
        let recurrence: Recurrence
        switch (cron, every) {
        case (let cron?, nil):
            do { recurrence = .cron(try CronExpression(cron)) } catch {
                throw DecodingError.dataCorruptedError(
                    forKey: .cron, in: c, debugDescription: error.description)
            }
        case (nil, let every?) where every >= 60 && every <= 366 * 86_400:
            recurrence = .every(every)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .cron, in: c, debugDescription: "expected cron, or everySeconds from 60 to 31622400")
        }
        self.init(
            cluster: try c.decode(ClusterName.self, forKey: .cluster),
            name: try c.decode(ScheduleName.self, forKey: .name), recurrence: recurrence,
            keyspaces: try c.decodeIfPresent([String].self, forKey: .keyspaces) ?? [],
            tables: try c.decodeIfPresent([String].self, forKey: .tables) ?? [],
            keepLast: try c.decodeIfPresent(Int.self, forKey: .keepLast),
            keepWithinSeconds: try c.decodeIfPresent(Double.self, forKey: .keepWithinSeconds),
            paused: try c.decodeIfPresent(Bool.self, forKey: .paused) ?? false,
            createdAt: try c.decode(Date.self, forKey: .createdAt))
        formatVersion = version
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(cluster, forKey: .cluster)
        try c.encode(name, forKey: .name)
        switch recurrence {
        case .cron(let cron): try c.encode(cron.text, forKey: .cron)
        case .every(let seconds): try c.encode(seconds, forKey: .everySeconds)
        }
        try c.encode(keyspaces, forKey: .keyspaces)
        try c.encode(tables, forKey: .tables)
        try c.encodeIfPresent(keepLast, forKey: .keepLast)
        try c.encodeIfPresent(keepWithinSeconds, forKey: .keepWithinSeconds)
        try c.encode(paused, forKey: .paused)
        try c.encode(createdAt, forKey: .createdAt)
    }

    package func encoded() -> Data { ManifestCoding.encode(self) }

    package static func decode(from data: Data) throws(ManifestError) -> Schedule {
        try ManifestCoding.decode(Schedule.self, from: data, document: document)
    }
}

/// `90s`, `15m`, `6h`, `30d`: a duration the way people write one.
package enum DurationText {
    package static func format(_ seconds: TimeInterval) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3600), ("m", 60)] where seconds >= size {
            if seconds.truncatingRemainder(dividingBy: size) == 0 { return "\(Int(seconds / size))\(unit)" }
        }
        return "\(Int(seconds))s"
    }
}
