import Foundation

/// Times as the policy commands print and read them.
enum PolicyTimeText {
    /// `2026-11-27T10:15:00Z`. Hand-rolled: a plan prints a million of these, and ISO8601DateFormatter costs
    /// microseconds each.
    static func utc(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        appendUTC(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendUTC(_ date: Date, to bytes: inout [UInt8]) {
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
        for (separator, value) in [("-", month), ("-", day), ("T", secondOfDay / 3600), (":", secondOfDay % 3600 / 60),
                                   (":", secondOfDay % 60)] as [(Unicode.Scalar, Int)] {
            bytes.append(UInt8(ascii: separator))
            digits(value, 2)
        }
        bytes.append(UInt8(ascii: "Z"))
    }

    /// `--at`: ISO 8601 with a zone (`2026-11-27T10:00:00Z`, `...+01:00`), or a wall time in the host's zone
    /// (`2026-11-27 10:00`, `2026-11-27T10:00:30`), or `now`.
    static func parse(_ text: String) -> Date? {
        if text == "now" { return Date() }
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

/// Writes large outputs in 64 KiB blocks instead of one write per line.
struct BufferedOutput {
    private var buffer: [UInt8] = []

    init() {
        buffer.reserveCapacity(1 << 16)
    }

    mutating func line(_ text: String) {
        append(text)
        buffer.append(UInt8(ascii: "\n"))
    }

    mutating func append(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func append(bytes: UnsafeBufferPointer<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func appendUTC(_ date: Date) {
        PolicyTimeText.appendUTC(date, to: &buffer)
    }

    mutating func flush() {
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { break }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
