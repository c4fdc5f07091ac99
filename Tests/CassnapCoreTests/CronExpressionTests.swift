import CassnapCore
import Foundation
import Testing

@Suite struct CronExpressionTests {
    func at(_ text: String) -> Date { InstantFormat.parse(text)! }

    @Test(arguments: [
        ("0 2 * * *", "2026-12-07T14:00:00Z", "2026-12-08T02:00:00.000Z"),
        ("0 2 * * *", "2026-12-08T01:59:59Z", "2026-12-08T02:00:00.000Z"),
        ("0 2 * * *", "2026-12-08T02:00:00Z", "2026-12-09T02:00:00.000Z"),
        ("*/15 * * * *", "2026-12-07T14:07:10Z", "2026-12-07T14:15:00.000Z"),
        ("30 */6 * * *", "2026-12-07T13:00:00Z", "2026-12-07T18:30:00.000Z"),
        ("0 0 * * 0", "2026-12-07T00:00:00Z", "2026-12-13T00:00:00.000Z"),  // Sunday
        ("0 0 * * 7", "2026-12-07T00:00:00Z", "2026-12-13T00:00:00.000Z"),  // 7 is Sunday too
        ("0 3 1 * 1", "2026-12-02T00:00:00Z", "2026-12-07T03:00:00.000Z"),  // 1st of the month or Monday
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00.000Z"),  // leap day
        ("5,10-12 1 1 1 *", "2026-06-01T00:00:00Z", "2027-01-01T01:05:00.000Z"),
    ])
    func nextRunIsTheFirstMatchingMinuteAfter(cron: String, after: String, expected: String) throws {
        let expression = try CronExpression(cron)
        #expect(expression.next(after: at(after)).map(InstantFormat.format) == expected)
    }

    @Test(arguments: [
        ("0 2 * *", "expected 5 fields"), ("60 * * * *", "minute \"60\""), ("* 24 * * *", "hour \"24\""),
        ("* * 0 * *", "day of month \"0\""), ("* * * 13 *", "month \"13\""),
        ("* * * * 8", "day of week \"8\""),
        ("*/0 * * * *", "minute \"*/0\""), ("5-1 * * * *", "minute \"5-1\""),
        ("0 0 31 2 *", "matches no date"),
        ("@daily", "expected 5 fields"),
    ])
    func aBadExpressionNamesTheField(cron: String, mentions: String) {
        let error = #expect(throws: ValidationError.self) { try CronExpression(cron) }
        #expect(error?.description.contains(mentions) == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func everyIsCountedFromCreationAndTagsAreOwnedByTheirScheduleOnly() throws {
        let created = at("2026-12-07T14:00:00Z")
        let schedule = Schedule(
            cluster: try ClusterName("c"), name: try ScheduleName("six-hourly"), recurrence: .every(6 * 3600),
            createdAt: created)
        #expect(schedule.nextRun(after: created) == at("2026-12-07T20:00:00Z"))
        #expect(schedule.nextRun(after: at("2026-12-08T03:00:00Z")) == at("2026-12-08T08:00:00Z"))
        let tag = schedule.tag(at: at("2026-12-08T08:00:00Z"))
        #expect(tag.rawValue == "six-hourly.20261208T080000Z")
        #expect(schedule.owns(tag))
        #expect(!schedule.owns(try SnapshotTag("six-hourly-eu.20261208T080000Z")))
        #expect(!schedule.owns(try SnapshotTag("six-hourly.manual")))
        let decoded = try Schedule.decode(from: schedule.encoded())
        #expect(decoded == schedule)
        #expect(throws: ValidationError.self) { try ScheduleName("bad.name") }
        #expect(throws: ValidationError.self) { try ScheduleName("-x") }
    }
}
