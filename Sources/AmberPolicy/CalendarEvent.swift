import Foundation

/// A recurring wall-clock event in the systemd/Proxmox calendar-event syntax:
/// `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]]`, e.g. `*:0/15`, `mon..fri 02:00`, `Sat *-1..7 15:00`,
/// `*-*-* 00/6:00`, or a shorthand (`minutely`, `hourly`, `daily`, `weekly`, `monthly`, `quarterly`,
/// `semiannually`, `yearly`/`annually`). Each field takes `*`, numbers, lists `1,15`, ranges `1..7` and
/// repetitions `0/15` (start/step) or `1..12/3`. Omitted date means every day; omitted time means 00:00:00.
///
/// Time zones: an event is a set of wall-clock times in the zone it is evaluated in. Where daylight saving time
/// skips a wall time (02:30 on a spring-forward day), the event fires once at the instant the clock jumps
/// (03:00 local) instead of being lost for the day, as cron does; systemd skips it. Where a wall time happens
/// twice (the repeated hour in autumn), it fires once, at its first occurrence; so an event that fires several
/// times an hour pauses during the repeated hour, as systemd's does.
public struct CalendarEvent: Sendable, Hashable, CustomStringConvertible {
    /// The text as written, for messages.
    public let text: String
    /// Allowed years; nil means every year from 1970 to `lastYear`.
    let years: [Int]?
    /// Bit n set: value n allowed.
    let months: UInt64
    let days: UInt64
    /// Bits 1 (Monday) ... 7 (Sunday).
    let weekdays: UInt64
    let hours: UInt64
    let minutes: UInt64
    let seconds: UInt64

    static let lastYear = 2199

    public var description: String { text }

    /// The first instant strictly after `after` at which the event fires in `timeZone`; nil if it never fires again.
    public func next(after: Date, in timeZone: TimeZone) -> Date? {
        next(after: after, zone: ZoneClock(timeZone: timeZone))
    }

    func next(after: Date, zone: ZoneClock) -> Date? {
        let afterSecond = Int(after.timeIntervalSince1970.rounded(.down))
        var searchFrom = zone.localSeconds(at: afterSecond) + 1
        while let match = firstMatch(onOrAfterLocal: searchFrom) {
            let fires: Int?
            switch zone.resolve(localSeconds: match) {
            case .once(let instant):
                fires = instant > afterSecond ? instant : nil
            case .twice(let first, let second):
                fires = first > afterSecond ? first : (second > afterSecond ? second : nil)
            case .skipped(let jump):
                fires = jump > afterSecond ? jump : nil
            }
            if let fires { return Date(timeIntervalSince1970: TimeInterval(fires)) }
            searchFrom = match + 1
        }
        return nil
    }

    /// The first wall-clock time (local seconds) at or after `local` that matches every field.
    func firstMatch(onOrAfterLocal local: Int) -> Int? {
        let startDay = floorDivide(local, 86_400)
        var date = CivilDate(daysSinceEpoch: startDay)
        var secondOfDay = local - startDay * 86_400
        while date.year <= Self.lastYear {
            guard yearAllowed(date.year) else {
                guard let year = nextAllowedYear(after: date.year) else { return nil }
                date = CivilDate(year: year, month: 1, day: 1)
                secondOfDay = 0
                continue
            }
            guard let month = Self.lowestBit(of: months, atLeast: date.month) else {
                date = CivilDate(year: date.year + 1, month: 1, day: 1)
                secondOfDay = 0
                continue
            }
            if month != date.month {
                date = CivilDate(year: date.year, month: month, day: 1)
                secondOfDay = 0
            }
            let monthLength = CivilDate.daysIn(month: month, year: date.year)
            guard let day = Self.lowestBit(of: days, atLeast: date.day), day <= monthLength else {
                date =
                    month == 12
                    ? CivilDate(year: date.year + 1, month: 1, day: 1)
                    : CivilDate(year: date.year, month: month + 1, day: 1)
                secondOfDay = 0
                continue
            }
            if day != date.day {
                date.day = day
                secondOfDay = 0
            }
            let dayNumber = date.daysSinceEpoch
            if weekdays & (1 << UInt64(CivilDate.weekday(daysSinceEpoch: dayNumber))) != 0,
                let time = firstTime(atOrAfter: secondOfDay)
            {
                return dayNumber * 86_400 + time
            }
            date = CivilDate(daysSinceEpoch: dayNumber + 1)
            secondOfDay = 0
        }
        return nil
    }

    private func firstTime(atOrAfter secondOfDay: Int) -> Int? {
        let startHour = secondOfDay / 3600
        let startMinute = secondOfDay % 3600 / 60
        let startSecond = secondOfDay % 60
        var hour = Self.lowestBit(of: hours, atLeast: startHour)
        while let h = hour {
            var minute = Self.lowestBit(of: minutes, atLeast: h == startHour ? startMinute : 0)
            while let m = minute {
                let fromSecond = (h == startHour && m == startMinute) ? startSecond : 0
                if let s = Self.lowestBit(of: seconds, atLeast: fromSecond) {
                    return h * 3600 + m * 60 + s
                }
                minute = Self.lowestBit(of: minutes, atLeast: m + 1)
            }
            hour = Self.lowestBit(of: hours, atLeast: h + 1)
        }
        return nil
    }

    private func yearAllowed(_ year: Int) -> Bool {
        guard let years else { return year >= 1970 }
        return years.contains(year)
    }

    private func nextAllowedYear(after year: Int) -> Int? {
        guard let years else { return year + 1 <= Self.lastYear ? max(year + 1, 1970) : nil }
        return years.first { $0 > year }
    }

    static func lowestBit(of mask: UInt64, atLeast value: Int) -> Int? {
        guard value < 64 else { return nil }
        let remaining = (mask >> UInt64(value)) << UInt64(value)
        return remaining == 0 ? nil : remaining.trailingZeroBitCount
    }
}
