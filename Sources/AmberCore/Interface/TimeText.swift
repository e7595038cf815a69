import Foundation

/// Times as every command reads (`--at`) and prints them: one parser and one display, so a form accepted by
/// one command is accepted by all. Tables and JSON print UTC (`2026-11-27T10:15:00Z`, the zone in the text);
/// tables add a relative age (`3h ago`).
public enum TimeText {
    public static let acceptedForms =
        "ISO 8601 (2026-11-27T10:00:00Z), a host-zone wall time (2026-11-27 10:00[:SS]), a day (2026-11-27, its midnight) or 'now'"

    /// "45s ago", "12m ago", "3h ago", "5d ago"; "in 2h" for a time ahead of `now`.
    public static func age(_ date: Date, now: Date = Date()) -> String {
        let seconds = now.timeIntervalSince(date)
        let magnitude = Int(abs(seconds))
        let text: String
        switch magnitude {
        case ..<60: text = "\(magnitude)s"
        case ..<3600: text = "\(magnitude / 60)m"
        case ..<86_400: text = "\(magnitude / 3600)h"
        default: text = "\(magnitude / 86_400)d"
        }
        return seconds >= 0 ? "\(text) ago" : "in \(text)"
    }

    /// `2026-11-27T10:15:00Z`. Hand-rolled: a plan prints a million of these, and ISO8601DateFormatter costs
    /// microseconds each.
    public static func utc(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        appendUTC(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func appendUTC(_ date: Date, to bytes: inout [UInt8]) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Days since 1970-01-01 to a civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        if year < 0 || year > 9999 {
            bytes += Array(String(year).utf8)
        } else {
            digits(year, 4)
        }
        for (separator, value) in [
            ("-", month), ("-", day), ("T", secondOfDay / 3600), (":", secondOfDay % 3600 / 60),
            (":", secondOfDay % 60),
        ] as [(Unicode.Scalar, Int)] {
            bytes.append(UInt8(ascii: separator))
            digits(value, 2)
        }
        bytes.append(UInt8(ascii: "Z"))
    }

    /// What `acceptedForms` says: ISO 8601 with a zone (`2026-11-27T10:00:00Z`, `...+01:00`), a wall time in
    /// the host's zone (`2026-11-27 10:00`, `2026-11-27T10:00:30`, a day `2026-11-27` meaning its midnight), or `now`.
    public static func parse(_ text: String) -> Date? {
        if text == "now" { return Date() }
        if let date = parseUTC(text) { return date }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return date }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = .current
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return date }
        }
        return nil
    }
}

extension TimeText {
    /// `2026-11-27T10:15:00Z` exactly, read without a formatter: creating ISO8601DateFormatter costs milliseconds,
    /// a measurable part of a plan. Nil for anything else (the formatters then decide).
    public static func parseUTC(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            bytes[19] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), hour < 24,
            minute < 60, second < 60
        else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...monthDays).contains(day) else { return nil }
        // Civil date to days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant's algorithm.
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let days = era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3600 + minute * 60 + second))
    }
}
