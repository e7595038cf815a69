import AmberTestSupport
import Foundation
import Testing
@testable import AmberPolicy

@Suite("Calendar events: next run")
struct CalendarEventTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let event: String
        let zone: String
        let after: String
        let expected: String
        var testDescription: String { "\(event) after \(after) \(zone)" }
    }

    /// `after` is wall time in `zone`; `expected` is wall time with offset in `zone`.
    static let cases: [Case] = [
        Case(event: "*:0/15", zone: "UTC", after: "2026-11-24 10:07", expected: "2026-11-24 10:15:00 +0000"),
        Case(event: "*:0/15", zone: "UTC", after: "2026-11-24 10:45", expected: "2026-11-24 11:00:00 +0000"),
        Case(event: "*:0/15", zone: "UTC", after: "2026-12-31 23:50", expected: "2027-01-01 00:00:00 +0000"),
        Case(event: "hourly", zone: "UTC", after: "2026-11-24 10:00", expected: "2026-11-24 11:00:00 +0000"),
        Case(event: "minutely", zone: "UTC", after: "2026-11-24 10:00:30", expected: "2026-11-24 10:01:00 +0000"),
        Case(event: "daily", zone: "UTC", after: "2026-01-31 12:00", expected: "2026-02-01 00:00:00 +0000"),
        Case(event: "weekly", zone: "UTC", after: "2026-11-25 09:00", expected: "2026-11-30 00:00:00 +0000"),
        Case(event: "monthly", zone: "UTC", after: "2026-01-31 00:00:01", expected: "2026-02-01 00:00:00 +0000"),
        Case(event: "quarterly", zone: "UTC", after: "2026-11-24 00:00", expected: "2027-01-01 00:00:00 +0000"),
        Case(event: "yearly", zone: "UTC", after: "2026-11-24 00:00", expected: "2027-01-01 00:00:00 +0000"),
        // Month ends: the 31st skips months without one.
        Case(event: "*-*-31 12:00", zone: "UTC", after: "2026-01-31 13:00", expected: "2026-03-31 12:00:00 +0000"),
        Case(event: "*-*-30", zone: "UTC", after: "2026-01-30 00:00", expected: "2026-03-30 00:00:00 +0000"),
        // Leap days: 2028 is the next; 2100 is not a leap year.
        Case(event: "*-02-29", zone: "UTC", after: "2026-01-01 00:00", expected: "2028-02-29 00:00:00 +0000"),
        Case(event: "*-02-29 06:00", zone: "UTC", after: "2096-02-29 07:00", expected: "2104-02-29 06:00:00 +0000"),
        // Weekdays, ranges, lists, repetitions.
        Case(event: "mon..fri 02:00", zone: "UTC", after: "2026-11-27 03:00", expected: "2026-11-30 02:00:00 +0000"),
        Case(event: "mon..fri 02:00", zone: "UTC", after: "2026-11-24 01:00", expected: "2026-11-24 02:00:00 +0000"),
        Case(event: "Sat,Sun 10:00", zone: "UTC", after: "2026-11-24 00:00", expected: "2026-11-28 10:00:00 +0000"),
        Case(event: "fri..mon 12:00", zone: "UTC", after: "2026-11-23 13:00", expected: "2026-11-27 12:00:00 +0000"),
        Case(event: "Sat *-1..7 15:00", zone: "UTC", after: "2026-11-24 00:00", expected: "2026-12-05 15:00:00 +0000"),
        Case(event: "Sat *-1..7 15:00", zone: "UTC", after: "2026-12-05 15:00", expected: "2027-01-02 15:00:00 +0000"),
        Case(event: "*-*-* 00/6:00", zone: "UTC", after: "2026-11-24 13:00", expected: "2026-11-24 18:00:00 +0000"),
        Case(event: "*-*-* 00/6:00", zone: "UTC", after: "2026-11-24 18:00", expected: "2026-11-25 00:00:00 +0000"),
        Case(event: "*-1,15 08:30", zone: "UTC", after: "2026-11-15 09:00", expected: "2026-12-01 08:30:00 +0000"),
        Case(event: "*-1..12/3-01 00:00", zone: "UTC", after: "2026-02-01 00:00", expected: "2026-04-01 00:00:00 +0000"),
        Case(event: "8..18/2:30", zone: "UTC", after: "2026-11-24 18:31", expected: "2026-11-25 08:30:00 +0000"),
        Case(event: "*:*:0/20", zone: "UTC", after: "2026-11-24 10:00:41", expected: "2026-11-24 10:01:00 +0000"),
        Case(event: "2027-06-01 12:00", zone: "UTC", after: "2026-11-24 00:00", expected: "2027-06-01 12:00:00 +0000"),
        Case(event: "2027-06-01 12:00", zone: "UTC", after: "2027-06-01 12:00", expected: "never"),
        // Named zones keep wall-clock times across DST: 02:00 Berlin is 01:00 UTC in winter, 00:00 UTC in summer.
        Case(event: "daily", zone: "Europe/Berlin", after: "2026-03-28 12:00", expected: "2026-03-29 00:00:00 +0100"),
        Case(event: "daily", zone: "Europe/Berlin", after: "2026-03-29 12:00", expected: "2026-03-30 00:00:00 +0200"),
        // Spring forward, Berlin 2026-03-29 02:00 -> 03:00: a skipped 02:30 fires when the clock jumps.
        Case(event: "02:30", zone: "Europe/Berlin", after: "2026-03-29 00:00", expected: "2026-03-29 03:00:00 +0200"),
        Case(event: "02:30", zone: "Europe/Berlin", after: "2026-03-29 03:00", expected: "2026-03-30 02:30:00 +0200"),
        Case(event: "*:0/15", zone: "Europe/Berlin", after: "2026-03-29 01:45", expected: "2026-03-29 03:00:00 +0200"),
        Case(event: "*:0/15", zone: "Europe/Berlin", after: "2026-03-29 03:00", expected: "2026-03-29 03:15:00 +0200"),
        // New York 2026-03-08 02:00 -> 03:00.
        Case(event: "02:30", zone: "America/New_York", after: "2026-03-08 00:00", expected: "2026-03-08 03:00:00 -0400"),
        Case(event: "daily", zone: "America/New_York", after: "2026-03-07 12:00", expected: "2026-03-08 00:00:00 -0500"),
    ]

    @Test(arguments: cases)
    func nextRun(_ testCase: Case) throws {
        let event = try CalendarEvent(parsing: testCase.event)
        let next = event.next(after: TestTime.local(testCase.after, testCase.zone), in: TestTime.zone(testCase.zone))
        #expect(TestTime.show(next, testCase.zone) == testCase.expected)
    }

    /// Fall back, Berlin 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice and fires once, the first time.
    @Test func repeatedHourFiresOnceInBerlin() throws {
        let event = try CalendarEvent(parsing: "02:30")
        let berlin = TestTime.zone("Europe/Berlin")
        let first = event.next(after: TestTime.utc("2026-10-24 23:00"), in: berlin)
        #expect(TestTime.show(first, "Europe/Berlin") == "2026-10-25 02:30:00 +0200")
        let second = event.next(after: first!, in: berlin)
        #expect(TestTime.show(second, "Europe/Berlin") == "2026-10-26 02:30:00 +0100")
    }

    /// A quarter-hourly event pauses for the repeated hour: 02:45 CEST is followed by 03:00 CET.
    @Test func subHourlyEventAcrossFallBack() throws {
        let event = try CalendarEvent(parsing: "*:0/15")
        let berlin = TestTime.zone("Europe/Berlin")
        let next = event.next(after: TestTime.utc("2026-10-25 00:45"), in: berlin)
        #expect(TestTime.show(next, "UTC") == "2026-10-25 02:00:00 +0000")
        #expect(TestTime.show(next, "Europe/Berlin") == "2026-10-25 03:00:00 +0100")
    }

    /// Started inside the second pass of the repeated hour (New York, 2026-11-01 01:xx EST), the next matching
    /// wall time is taken in that pass.
    @Test func startingInsideTheRepeatedHour() throws {
        let event = try CalendarEvent(parsing: "*:0/30")
        let newYork = TestTime.zone("America/New_York")
        let next = event.next(after: TestTime.utc("2026-11-01 06:10"), in: newYork)
        #expect(TestTime.show(next, "UTC") == "2026-11-01 06:30:00 +0000")
        let daily = try CalendarEvent(parsing: "01:30")
        let first = daily.next(after: TestTime.utc("2026-11-01 04:00"), in: newYork)
        #expect(TestTime.show(first, "America/New_York") == "2026-11-01 01:30:00 -0400")
        #expect(TestTime.show(daily.next(after: first!, in: newYork), "America/New_York") == "2026-11-02 01:30:00 -0500")
    }

    /// Every run of an hourly event over two years in each zone is one hour after the previous one, except across
    /// DST changes, where the gap is what the wall clock implies; the runs land on whole wall-clock hours.
    @Test(arguments: ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
    func hourlyRunsStayOnTheWallClock(zoneName: String) throws {
        let event = try CalendarEvent(parsing: "hourly")
        let zone = TestTime.zone(zoneName)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var current = TestTime.utc("2026-01-01 00:30")
        var runs = 0
        while current < TestTime.utc("2028-01-01 00:00") {
            let next = try #require(event.next(after: current, in: zone))
            let gap = next.timeIntervalSince(current)
            #expect(gap > 0 && gap <= 2 * 3600, "gap \(gap) after \(current) in \(zoneName)")
            let components = calendar.dateComponents([.minute, .second], from: next)
            if runs > 0,
                zone.nextDaylightSavingTimeTransition(after: current.addingTimeInterval(-7200)).map({
                    abs($0.timeIntervalSince(next)) > 7200
                }) ?? true
            {
                #expect(components.minute == 0 && components.second == 0, "\(next) in \(zoneName)")
            }
            current = next
            runs += 1
        }
        #expect(runs > 17_400 && runs < 17_600)
    }
}

@Suite("Calendar events: parsing")
struct CalendarEventParsingTests {
    @Test(arguments: [
        ("*-02-30", "never happens"),
        ("*-04-31 00:00", "never happens"),
        ("*-02,04-31", "never happens"),
        ("mon 2026-02-01", "never happens"),
        ("25:00", "hour '25' is out of range"),
        ("*:60", "minute '60' is out of range"),
        ("*-13-01", "month '13' is out of range"),
        ("0/0:00", "step that is not a positive number"),
        ("5..1:00", "runs backwards"),
        ("foo 02:00", "'foo' is not a weekday"),
        ("", "empty calendar event"),
        ("02:00 03:00", "unexpected '03:00'"),
        ("1-2-3-4", "must be MONTH-DAY or YEAR-MONTH-DAY"),
        ("1:2:3:4", "must be HOUR:MINUTE or HOUR:MINUTE:SECOND"),
        ("x:00", "is not a number"),
        ("2026-01-01 12:00 UTC", "unexpected 'utc'"),
    ])
    func rejects(text: String, expectedFragment: String) {
        #expect {
            _ = try CalendarEvent(parsing: text)
        } throws: { error in
            String(describing: error).contains(expectedFragment)
        }
    }

    @Test(arguments: [
        "*:0/15", "hourly", "Daily", "WEEKLY", "monthly", "mon..fri 02:00", "Sat *-1..7 15:00",
        "*-*-* 00/6:00", "*-1,15 08:30", "mon-fri 02:00", "Monday,Friday 23:59:59", "*-02-29",
        "2026..2030-01-01", "*/10:00", "semiannually", "annually",
    ])
    func accepts(text: String) throws {
        let event = try CalendarEvent(parsing: text)
        #expect(event.next(after: TestTime.utc("2026-01-01 00:00"), in: TestTime.zone("UTC")) != nil)
    }

    @Test func weekdayRangeExpandsToEachDay() throws {
        let event = try CalendarEvent(parsing: "mon..fri 02:00")
        let zone = TestTime.zone("UTC")
        var runs: [String] = []
        var cursor = TestTime.utc("2026-11-22 00:00")
        for _ in 0..<6 {
            cursor = try #require(event.next(after: cursor, in: zone))
            runs.append(TestTime.show(cursor))
        }
        #expect(
            runs == [
                "2026-11-23 02:00:00 +0000", "2026-11-24 02:00:00 +0000", "2026-11-25 02:00:00 +0000",
                "2026-11-26 02:00:00 +0000", "2026-11-27 02:00:00 +0000", "2026-11-30 02:00:00 +0000",
            ])
    }
}

@Suite("Calendar events: against a brute-force minute scan")
struct CalendarEventBruteForceTests {
    /// A random event built from field syntaxes, with its fields as plain sets for the scan.
    struct RandomEvent {
        var text: String
        var weekdays: Set<Int>
        var days: Set<Int>
        var hours: Set<Int>
        var minutes: Set<Int>

        init(using random: inout SeededGenerator) {
            func field(_ range: ClosedRange<Int>, minimumCount: Int) -> (String, Set<Int>) {
                switch Int.random(in: 0..<4, using: &random) {
                case 0: return ("*", Set(range))
                case 1:
                    let step = Int.random(in: 1...max(1, range.count / minimumCount), using: &random)
                    let start = Int.random(in: range.lowerBound...range.lowerBound + step - 1, using: &random)
                    return ("\(start)/\(step)", Set(stride(from: start, through: range.upperBound, by: step)))
                case 2:
                    let low = Int.random(in: range.lowerBound...range.upperBound - minimumCount, using: &random)
                    let high = Int.random(in: low + minimumCount - 1...range.upperBound, using: &random)
                    return ("\(low)..\(high)", Set(low...high))
                default:
                    let values = Set((0..<minimumCount).map { _ in Int.random(in: range, using: &random) })
                    return (values.sorted().map(String.init).joined(separator: ","), values)
                }
            }
            let (dayText, days) = field(1...31, minimumCount: 20)
            let (hourText, hours) = field(0...23, minimumCount: 2)
            let (minuteText, minutes) = field(0...59, minimumCount: 2)
            let weekdayCount = Int.random(in: 0...6, using: &random)
            let weekdays = weekdayCount == 0 ? Set(1...7) : Set((0..<weekdayCount).map { _ in Int.random(in: 1...7, using: &random) })
            let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            let weekdayText = weekdayCount == 0 ? "" : weekdays.sorted().map { names[$0 - 1] }.joined(separator: ",") + " "
            text = "\(weekdayText)*-*-\(dayText) \(hourText):\(minuteText)"
            self.weekdays = weekdays
            self.days = days
            self.hours = hours
            self.minutes = minutes
        }

        func matches(localSeconds: Int) -> Bool {
            let day = floorDivide(localSeconds, 86_400)
            let date = CivilDate(daysSinceEpoch: day)
            let secondOfDay = localSeconds - day * 86_400
            return secondOfDay % 60 == 0 && weekdays.contains(date.weekday) && days.contains(date.day)
                && hours.contains(secondOfDay / 3600) && minutes.contains(secondOfDay % 3600 / 60)
        }
    }

    /// In zones without DST, `next(after:)` is the first whole minute after `after` whose wall time matches.
    @Test(arguments: ["UTC", "Asia/Kolkata", "Asia/Kathmandu"])
    func nextIsTheFirstMatchingMinute(zoneName: String) throws {
        let zone = TestTime.zone(zoneName)
        var random = SeededGenerator(seed: 2026)
        for _ in 0..<300 {
            let event = RandomEvent(using: &random)
            let parsed = try CalendarEvent(parsing: event.text)
            let after = Int.random(in: 1_700_000_000...1_900_000_000, using: &random)
            let next = try #require(
                parsed.next(after: Date(timeIntervalSince1970: Double(after)), in: zone),
                "\(event.text)")
            var minute = (after / 60 + 1) * 60
            var expected: Int?
            while minute < after + 60 * 86_400 {
                if event.matches(localSeconds: minute + zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(minute)))) {
                    expected = minute
                    break
                }
                minute += 60
            }
            #expect(Int(next.timeIntervalSince1970) == expected, "\(event.text) after \(after) in \(zoneName)")
            if Int(next.timeIntervalSince1970) != expected { return }
        }
    }
}
