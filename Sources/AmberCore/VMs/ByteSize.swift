/// Sizes as people type them: a whole number of bytes, or one with a binary unit
/// (K, M, G, T, optionally followed by "iB" or "B"; case-insensitive; 1K = 1024 bytes).
public enum ByteSize {
    public static let acceptedForms = "bytes or a whole number with K, M, G or T (binary units), e.g. 268435456, 1024K, 512M, 512MiB, 1G"

    /// The number of bytes `text` names, or nil when it is not a size (or does not fit in 64 bits).
    public static func parse(_ text: String) -> UInt64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = UInt64(digits),
              let multiplier = multiplier(forUnit: text.dropFirst(digits.count).lowercased()) else {
            return nil
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// A short human form: the largest binary unit that keeps the value at least 1, one decimal at most.
    public static func describe(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 || value == value.rounded() {
            return "\(Int(value)) \(units[unit])"
        }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }

    private static func multiplier(forUnit unit: String) -> UInt64? {
        guard let letter = unit.first else { return 1 }
        let rest = unit.dropFirst()
        guard rest.isEmpty || rest == "b" || rest == "ib" else { return nil }
        switch letter {
        case "k": return 1 << 10
        case "m": return 1 << 20
        case "g": return 1 << 30
        case "t": return 1 << 40
        case "b" where rest.isEmpty: return 1
        default: return nil
        }
    }
}
