/// A 48-bit Ethernet MAC address, written as six lowercase hex pairs separated by colons
/// ("52:54:00:ab:cd:ef"), the form `config.json`, the CLI and the guest's `ip link` show.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible, Codable {
    public let bytes: [UInt8]

    /// Nil unless `bytes` has six entries.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// Parses six hex pairs separated by colons (either case); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    /// A random unicast address with the locally administered bit set (never a vendor's), as libvirt and
    /// Docker make them: first byte xxxxxx10.
    public static func randomLocallyAdministered<G: RandomNumberGenerator>(using generator: inout G) -> MACAddress {
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = bytes[0] & 0xFC | 0x02
        return MACAddress(bytes: bytes)!
    }

    public static func randomLocallyAdministered() -> MACAddress {
        var generator = SystemRandomNumberGenerator()
        return randomLocallyAdministered(using: &generator)
    }

    /// Group (multicast or broadcast) addresses cannot be a NIC's own.
    public var isUnicast: Bool { bytes[0] & 0x01 == 0 }
    public var isLocallyAdministered: Bool { bytes[0] & 0x02 != 0 }
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = MACAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a MAC address: \(text)"))
        }
        self = address
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
