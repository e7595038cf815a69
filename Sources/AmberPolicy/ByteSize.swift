/// Sizes as people type them, in `--memory` and in policy files alike: a whole number of bytes, or one with a
/// unit K, M, G or T, optionally followed by "iB" or "B", case-insensitive. Every unit is binary: 20G, 20GiB and
/// 20GB all mean 20 x 2^30 bytes (as the memory of a VM and the size of a disk are counted). Here, the lowest
/// target that both the policy parser and the commands import; `ByteFormat.string` (AmberCore) prints sizes.
public enum ByteSize {
    public static let acceptedForms =
        "bytes or a whole number with K, M, G or T (binary units: 1G = 1GiB = 1GB = 2^30 bytes), e.g. 268435456, 1024K, 512M, 512MiB, 1G"

    /// The number of bytes `text` names, or nil when it is not a size (or does not fit in 64 bits).
    public static func parse(_ text: String) -> UInt64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = UInt64(digits),
            let multiplier = multiplier(forUnit: text.dropFirst(digits.count).lowercased())
        else {
            return nil
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
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
