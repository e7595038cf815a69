import Foundation

/// The small value syntaxes of policy files: durations (`90m`, `36h`, `2d`, `1w`, `1d12h`) and sizes (`20G`).
enum PolicyValues {
    static let durationHelp = "a duration like 90m, 36h, 2d, 1w or 1d12h (units s, m, h, d, w)"
    static let sizeHelp =
        "a size like 512M, 20G or 1T (binary units K, M, G, T, optionally followed by iB or B: 20G = 20GiB = 20GB; or plain bytes)"

    /// Seconds in a positive duration, or nil when `text` is not one.
    static func duration(_ text: String) -> TimeInterval? {
        let unitSeconds: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var total = 0
        var digits = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if let unit = unitSeconds[character], let value = Int(digits) {
                let (product, overflow1) = value.multipliedReportingOverflow(by: unit)
                let (sum, overflow2) = total.addingReportingOverflow(product)
                guard !overflow1, !overflow2 else { return nil }
                total = sum
                digits = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        guard sawUnit, digits.isEmpty, total > 0 else { return nil }
        return TimeInterval(total)
    }

    /// Bytes in a positive size, or nil when `text` is not one.
    static func size(_ text: String) -> UInt64? {
        ByteSize.parse(text).flatMap { $0 > 0 ? $0 : nil }
    }

    static func formatDuration(_ seconds: TimeInterval) -> String {
        var remaining = Int(seconds)
        var parts = ""
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] where remaining >= size {
            parts += "\(remaining / size)\(unit)"
            remaining %= size
        }
        return parts.isEmpty ? "0s" : parts
    }

    /// `20G` for whole units, else one decimal (`1.5G`), else bytes: the policy file's own spelling, for messages
    /// that quote a policy back (tables print sizes with `ByteFormat.string`).
    static func formatSize(_ bytes: UInt64) -> String {
        for (unit, size) in [("T", UInt64(1) << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where bytes >= size {
            if bytes % size == 0 { return "\(bytes / size)\(unit)" }
            let tenths = bytes / size * 10 + ((bytes % size) * 10 + size / 2) / size
            return "\(tenths / 10).\(tenths % 10)\(unit)"
        }
        return "\(bytes)B"
    }
}
