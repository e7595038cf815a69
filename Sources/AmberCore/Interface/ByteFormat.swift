import Foundation

/// The one way sizes and ratios are printed (sizes are read by `ByteSize.parse`, in AmberPolicy).
public enum ByteFormat {
    /// "1.50 GiB", "64 MiB" (a whole number of the unit without decimals), "512 B".
    public static func string<T: BinaryInteger>(_ bytes: T) -> String {
        let value = Double(bytes)
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = value
        var unit = 0
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 || scaled == scaled.rounded() { return "\(Int64(scaled)) \(units[unit])" }
        return String(format: "%.2f %@", scaled, units[unit])
    }

    /// "12.3x", or "∞" when nothing was stored.
    public static func ratio(_ value: Double) -> String {
        value.isFinite ? String(format: "%.2fx", value) : "∞ (nothing new stored)"
    }
}
