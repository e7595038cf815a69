/// An IPv4 subnet in CIDR form (`10.213.0.0/24`). A network's gateway (the bridge's address, where dnsmasq
/// answers) is its first host address; the addresses Amber hands to NICs are the rest, up to the broadcast.
public struct IPv4Subnet: Hashable, Sendable, CustomStringConvertible, Codable {
    public let base: IPv4Address
    public let prefixLength: Int

    /// Prefix lengths a network may have: /8 at most (a bigger one covers too much of the host's address space),
    /// /29 at least (a gateway, a broadcast and a few NICs).
    public static let networkPrefixLengths = 8...29

    public init(base: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength))
        self.prefixLength = prefixLength
        self.base = IPv4Address(base.value & Self.mask(prefixLength))
    }

    /// Parses `A.B.C.D/N` (0-32). Host bits set (`10.0.0.1/24`) are refused: which subnet was meant is a guess.
    public static func parse(_ text: String) throws(NetworkError) -> IPv4Subnet {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]), parts[1].allSatisfy(\.isNumber), parts[1].count <= 2,
            let length = Int(parts[1]), (0...32).contains(length)
        else { throw .badSubnet(text, reason: "it is not an IPv4 subnet in CIDR form like 10.213.0.0/24") }
        let subnet = IPv4Subnet(base: address, prefixLength: length)
        guard subnet.base == address else {
            throw .badSubnet(text, reason: "host bits are set: did you mean \(subnet)?")
        }
        return subnet
    }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }

    public var mask: IPv4Address { IPv4Address(Self.mask(prefixLength)) }
    public var broadcast: IPv4Address { IPv4Address(base.value | ~Self.mask(prefixLength)) }
    /// The bridge's address: the first host address.
    public var gateway: IPv4Address { IPv4Address(base.value + 1) }
    /// The addresses NICs get: from the one after the gateway to the one before the broadcast.
    public var hostRange: ClosedRange<IPv4Address> { IPv4Address(base.value + 2)...IPv4Address(broadcast.value - 1) }

    public func contains(_ address: IPv4Address) -> Bool {
        address.value & Self.mask(prefixLength) == base.value
    }

    public func overlaps(_ other: IPv4Subnet) -> Bool {
        contains(other.base) || other.contains(base)
    }

    public var description: String { "\(base)/\(prefixLength)" }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Self.parse(text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
