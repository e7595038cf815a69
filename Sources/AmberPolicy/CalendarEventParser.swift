/// A calendar event that cannot be parsed or never fires; `message` says what is wrong and what is allowed.
public struct CalendarEventError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

extension CalendarEvent {
    static let shorthands: [String: String] = [
        "minutely": "*-*-* *:*:00",
        "hourly": "*-*-* *:00:00",
        "daily": "*-*-* 00:00:00",
        "weekly": "mon *-*-* 00:00:00",
        "monthly": "*-*-01 00:00:00",
        "quarterly": "*-01,04,07,10-01 00:00:00",
        "semiannually": "*-01,07-01 00:00:00",
        "yearly": "*-01-01 00:00:00",
        "annually": "*-01-01 00:00:00",
    ]

    static let weekdayNames: [(short: String, long: String)] = [
        ("mon", "monday"), ("tue", "tuesday"), ("wed", "wednesday"), ("thu", "thursday"),
        ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday"),
    ]

    static let syntaxHelp =
        "expected [WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]], e.g. '*:0/15', "
        + "'mon..fri 02:00', 'Sat *-1..7 15:00', or hourly/daily/weekly/monthly/yearly"

    /// Parses `text`; rejects syntax errors, out-of-range values and events that can never fire (`*-02-30`).
    public init(parsing text: String) throws(CalendarEventError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lowered = trimmed.lowercased()
        let expanded = Self.shorthands[lowered] ?? lowered
        var tokens = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !tokens.isEmpty else { throw CalendarEventError(message: "empty calendar event; \(Self.syntaxHelp)") }

        var weekdays: UInt64 = 0b1111_1110
        if let first = tokens.first, first.first?.isLetter == true, !first.contains(":") {
            weekdays = try Self.parseWeekdays(tokens.removeFirst(), in: trimmed)
        }
        var dateToken: String?
        var timeToken: String?
        for token in tokens {
            if token.contains(":"), timeToken == nil {
                timeToken = token
            } else if token.contains("-"), dateToken == nil, timeToken == nil {
                dateToken = token
            } else {
                throw CalendarEventError(message: "'\(trimmed)': unexpected '\(token)'; \(Self.syntaxHelp)")
            }
        }

        var years: [Int]?
        var months: UInt64 = Self.mask(1...12)
        var days: UInt64 = Self.mask(1...31)
        if let dateToken {
            let parts = dateToken.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3 else {
                throw CalendarEventError(message: "'\(trimmed)': date '\(dateToken)' must be MONTH-DAY or YEAR-MONTH-DAY")
            }
            if parts.count == 3 {
                let yearValues = try Self.parseField(parts[0], name: "year", range: 1970...Self.lastYear, in: trimmed)
                years = yearValues.count == Self.lastYear - 1970 + 1 ? nil : yearValues
            }
            months = Self.mask(try Self.parseField(parts[parts.count - 2], name: "month", range: 1...12, in: trimmed))
            days = Self.mask(try Self.parseField(parts[parts.count - 1], name: "day", range: 1...31, in: trimmed))
        }

        var hours: UInt64 = 1
        var minutes: UInt64 = 1
        var seconds: UInt64 = 1
        if let timeToken {
            let parts = timeToken.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3 else {
                throw CalendarEventError(message: "'\(trimmed)': time '\(timeToken)' must be HOUR:MINUTE or HOUR:MINUTE:SECOND")
            }
            hours = Self.mask(try Self.parseField(parts[0], name: "hour", range: 0...23, in: trimmed))
            minutes = Self.mask(try Self.parseField(parts[1], name: "minute", range: 0...59, in: trimmed))
            if parts.count == 3 {
                seconds = Self.mask(try Self.parseField(parts[2], name: "second", range: 0...59, in: trimmed))
            }
        }

        self.init(
            text: trimmed, years: years, months: months, days: days, weekdays: weekdays,
            hours: hours, minutes: minutes, seconds: seconds)
        if firstMatch(onOrAfterLocal: 0) == nil {
            throw CalendarEventError(message: "'\(trimmed)' never happens: \(neverHappensReason())")
        }
    }

    private func neverHappensReason() -> String {
        let monthLengths = (1...12).filter { months & (1 << UInt64($0)) != 0 }
            .map { $0 == 2 ? 29 : CivilDate.daysIn(month: $0, year: 2001) }
        let smallestDay = Self.lowestBit(of: days, atLeast: 1) ?? 32
        if let longest = monthLengths.max(), smallestDay > longest {
            return "day \(smallestDay) does not exist in the months it allows (at most \(longest) days)"
        }
        return "no date in 1970...\(Self.lastYear) matches its year, month, day and weekday together"
    }

    static func mask(_ values: some Sequence<Int>) -> UInt64 {
        values.reduce(0) { $0 | (1 << UInt64($1)) }
    }

    /// One field: `*`, `N`, `A..B`, with an optional `/STEP`, comma-separated.
    static func parseField(_ text: String, name: String, range: ClosedRange<Int>, in event: String)
        throws(CalendarEventError) -> [Int]
    {
        func fail(_ why: String) -> CalendarEventError {
            CalendarEventError(
                message: "'\(event)': \(name) '\(text)' \(why); allowed: \(range.lowerBound)..\(range.upperBound), "
                    + "'*', lists '1,15', ranges '1..7', repetitions '0/15'")
        }
        func number(_ digits: Substring) throws(CalendarEventError) -> Int {
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let value = Int(digits) else {
                throw fail("is not a number")
            }
            guard range.contains(value) else { throw fail("is out of range") }
            return value
        }
        var values = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { throw fail("has more than one '/'") }
            var step = 1
            if stepParts.count == 2 {
                guard let parsed = Int(stepParts[1]), parsed > 0 else { throw fail("has a step that is not a positive number") }
                step = parsed
            }
            let base = stepParts[0]
            let lower: Int
            var upper: Int
            if base == "*" {
                lower = range.lowerBound
                upper = range.upperBound
            } else if let dots = base.range(of: "..") {
                lower = try number(base[..<dots.lowerBound])
                upper = try number(base[dots.upperBound...])
                guard lower <= upper else { throw fail("has a range that runs backwards") }
            } else {
                lower = try number(base)
                upper = stepParts.count == 2 ? range.upperBound : lower
            }
            upper = min(upper, range.upperBound)
            values.formUnion(stride(from: lower, through: upper, by: step))
        }
        return values.sorted()
    }

    static func parseWeekdays(_ text: String, in event: String) throws(CalendarEventError) -> UInt64 {
        func weekday(_ name: Substring) throws(CalendarEventError) -> Int {
            if let index = weekdayNames.firstIndex(where: { $0.short == name || $0.long == name }) { return index + 1 }
            throw CalendarEventError(
                message: "'\(event)': '\(name)' is not a weekday; allowed: mon tue wed thu fri sat sun, "
                    + "lists 'sat,sun' and ranges 'mon..fri'")
        }
        var result: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds =
                item.range(of: "..").map { (item[..<$0.lowerBound], item[$0.upperBound...]) }
                ?? item.firstIndex(of: "-").map { (item[..<$0], item[item.index(after: $0)...]) }
            if let (first, last) = bounds {
                var day = try weekday(first)
                let end = try weekday(last)
                result |= 1 << UInt64(day)
                while day != end {
                    day = day % 7 + 1
                    result |= 1 << UInt64(day)
                }
            } else {
                result |= 1 << UInt64(try weekday(item))
            }
        }
        return result
    }
}
