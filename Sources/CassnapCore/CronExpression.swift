import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), evaluated in
/// UTC: `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n` or `a-b/n`; day of week 0–7
/// (0 and 7 are Sunday). As in cron, when both day fields are restricted a day matches if
/// either does. Written here because it is 100 lines and no package in the mirror has one.
package struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    package let text: String
    private let minutes: Set<Int>
    private let hours: Set<Int>
    private let days: Set<Int>
    private let months: Set<Int>
    private let weekdays: Set<Int>
    private let daysRestricted: Bool
    private let weekdaysRestricted: Bool

    package init(_ text: String) throws(ValidationError) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        func fail(_ reason: String) -> ValidationError { .invalid(field: .cron, value: text, reason: reason) }
        guard fields.count == 5 else {
            throw fail(
                "expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        let names = ["minute", "hour", "day of month", "month", "day of week"]
        let ranges = [0...59, 0...23, 1...31, 1...12, 0...7]
        var sets: [Set<Int>] = []
        for (i, field) in fields.enumerated() {
            guard let set = Self.parse(field, range: ranges[i]) else {
                throw fail(
                    "\(names[i]) \(field.quotedForMessage) is not *, N, A-B, A,B or */N within \(ranges[i])")
            }
            sets.append(set)
        }
        self.text = fields.joined(separator: " ")
        minutes = sets[0]
        hours = sets[1]
        days = sets[2]
        months = sets[3]
        weekdays = Set(sets[4].map { $0 % 7 })
        daysRestricted = fields[2] != "*"
        weekdaysRestricted = fields[4] != "*"
        guard next(after: Date(timeIntervalSince1970: 0), within: 4 * 366) != nil else {
            throw fail("matches no date")
        }
    }

    package var description: String { text }

    private static func parse(_ field: String, range: ClosedRange<Int>) -> Set<Int>? {
        var result: Set<Int> = []
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(pieces.count) else { return nil }
            var step = 1
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), n >= 1 else { return nil }
                step = n
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" {
                span = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                guard let a = Int(pieces[0][..<dash]),
                    let b = Int(pieces[0][pieces[0].index(after: dash)...]),
                    a <= b, range.contains(a), range.contains(b)
                else { return nil }
                span = a...b
            } else {
                guard let a = Int(pieces[0]), range.contains(a) else { return nil }
                span = pieces.count == 2 ? a...range.upperBound : a...a
            }
            result.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return result.isEmpty ? nil : result
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The first matching minute strictly after `date`, searched up to `within` days ahead.
    package func next(after date: Date, within daysAhead: Int = 4 * 366) -> Date? {
        let calendar = Self.utc
        let start = date.timeIntervalSince1970
        var minute = (start / 60).rounded(.down) * 60 + 60
        let limit = start + Double(daysAhead) * 86_400
        while minute <= limit {
            let instant = Date(timeIntervalSince1970: minute)
            let c = calendar.dateComponents([.month, .day, .weekday, .hour, .minute], from: instant)
            guard months.contains(c.month!) else {
                minute = startOfNextDay(instant, calendar)
                continue
            }
            let dayMatches: Bool
            let weekday = c.weekday! - 1  // Calendar: 1 = Sunday
            switch (daysRestricted, weekdaysRestricted) {
            case (true, true): dayMatches = days.contains(c.day!) || weekdays.contains(weekday)
            case (true, false): dayMatches = days.contains(c.day!)
            case (false, true): dayMatches = weekdays.contains(weekday)
            case (false, false): dayMatches = true
            }
            guard dayMatches else {
                minute = startOfNextDay(instant, calendar)
                continue
            }
            guard hours.contains(c.hour!) else {
                minute = (minute / 3600).rounded(.down) * 3600 + 3600
                continue
            }
            if minutes.contains(c.minute!) { return instant }
            minute += 60
        }
        return nil
    }

    private func startOfNextDay(_ instant: Date, _ calendar: Calendar) -> Double {
        (instant.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400 + 86_400
    }
}
