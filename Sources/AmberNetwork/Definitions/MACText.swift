/// MAC address text as Amber stores it. Private to this module: the device side's `MACAddress` type
/// (AmberControl) is what callers hold; they hand its text here.
enum MACText {
    /// `52:54:00:12:34:56` in either case, as lowercase text; a multicast MAC (the first byte's low bit) is no NIC's.
    static func canonical(_ text: String) throws(NetworkError) -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }),
            let first = UInt8(parts[0], radix: 16), first & 1 == 0
        else { throw .badMAC(text) }
        return parts.map { $0.lowercased() }.joined(separator: ":")
    }
}
