/// A port on the host that reaches a port of a guest (`--publish 8080:80`, `--publish 5353:53/udp`): DNAT rules
/// in the network's nftables table.
public struct PublishedPort: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Transport: String, Sendable, Codable, CaseIterable {
        case tcp, udp
    }

    public let hostPort: UInt16
    public let guestPort: UInt16
    public let transport: Transport

    public init(hostPort: UInt16, guestPort: UInt16, transport: Transport = .tcp) {
        self.hostPort = hostPort
        self.guestPort = guestPort
        self.transport = transport
    }

    /// Parses `HOST:GUEST`, `HOST:GUEST/tcp` or `HOST:GUEST/udp`; each port 1-65535.
    public static func parse(_ text: String) throws(NetworkError) -> PublishedPort {
        let slashParts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard slashParts.count <= 2 else { throw .badPublish(text) }
        var transport = Transport.tcp
        if slashParts.count == 2 {
            guard let parsed = Transport(rawValue: String(slashParts[1]).lowercased()) else { throw .badPublish(text) }
            transport = parsed
        }
        let ports = slashParts[0].split(separator: ":", omittingEmptySubsequences: false)
        guard ports.count == 2, let host = port(ports[0]), let guest = port(ports[1]) else { throw .badPublish(text) }
        return PublishedPort(hostPort: host, guestPort: guest, transport: transport)
    }

    private static func port(_ text: Substring) -> UInt16? {
        guard (1...5).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text),
            (1...65535).contains(value)
        else { return nil }
        return UInt16(value)
    }

    public var description: String { "\(hostPort):\(guestPort)/\(transport.rawValue)" }
}
