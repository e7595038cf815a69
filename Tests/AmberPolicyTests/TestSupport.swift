import Foundation

/// Dates in tests are written as wall-clock text in a named zone and read back with Foundation's own calendar,
/// so expectations do not depend on the engine's arithmetic.
enum TestTime {
    static func zone(_ identifier: String) -> TimeZone {
        TimeZone(identifier: identifier)!
    }

    /// "2026-03-29 02:30" or "2026-03-29 02:30:15" in `zone`. In an ambiguous hour Foundation picks one instant;
    /// tests that care use `utc` instead.
    static func local(_ text: String, _ zone: String = "UTC") -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = self.zone(zone)
        let parts = text.split(whereSeparator: { "- :T".contains($0) }).map { Int($0)! }
        let components = DateComponents(
            year: parts[0], month: parts[1], day: parts[2],
            hour: parts.count > 3 ? parts[3] : 0, minute: parts.count > 4 ? parts[4] : 0,
            second: parts.count > 5 ? parts[5] : 0)
        return calendar.date(from: components)!
    }

    static func utc(_ text: String) -> Date { local(text, "UTC") }

    /// "2026-03-29 03:00:00 +0200" in `zone`.
    static func show(_ date: Date?, _ zone: String = "UTC") -> String {
        guard let date else { return "never" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = self.zone(zone)
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss xx"
        return formatter.string(from: date)
    }
}
