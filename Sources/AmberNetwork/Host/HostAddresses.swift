import Foundation

/// The IPv4 addresses and routes the host has (in this network namespace), which a new network's subnet must
/// not overlap: a guest could not reach what its own subnet hides, and the host would route into the bridge.
enum HostAddresses {
    /// One subnet in use and what uses it ("address 192.168.1.5/24 of eth0", "route 10.8.0.0/16 via tun0").
    struct InUse {
        let subnet: IPv4Subnet
        let what: String
    }

    private struct Interface: Decodable {
        struct AddressInfo: Decodable {
            let family: String?
            let local: String?
            let prefixlen: Int?
        }

        let ifname: String?
        let addressInfo: [AddressInfo]?

        enum CodingKeys: String, CodingKey {
            case ifname
            case addressInfo = "addr_info"
        }
    }

    private struct Route: Decodable {
        let dst: String?
        let dev: String?
    }

    /// Every IPv4 address (as its subnet) and every route but the default one. Addresses of `ignoring` (a
    /// network's own bridge) are left out.
    static func inUse(ignoringLinks ignoring: Set<String> = []) throws(NetworkError) -> [InUse] {
        var found: [InUse] = []
        let interfaces: [Interface] = try decode(HostCommand.run(.ip, ["-4", "-j", "addr", "show"]), "ip -j addr")
        for interface in interfaces where !ignoring.contains(interface.ifname ?? "") {
            for info in interface.addressInfo ?? [] where info.family == "inet" {
                guard let local = info.local.flatMap(IPv4Address.init), let length = info.prefixlen, (0...32).contains(length)
                else { continue }
                found.append(
                    InUse(
                        subnet: IPv4Subnet(base: local, prefixLength: length),
                        what: "address \(local)/\(length) of \(interface.ifname ?? "?")"))
            }
        }
        let routes: [Route] = try decode(HostCommand.run(.ip, ["-4", "-j", "route", "show"]), "ip -j route")
        for route in routes where !ignoring.contains(route.dev ?? "") {
            guard let destination = route.dst, destination != "default", let subnet = parse(destination) else { continue }
            found.append(InUse(subnet: subnet, what: "route \(destination)" + (route.dev.map { " via \($0)" } ?? "")))
        }
        return found
    }

    /// `10.0.0.0/8` or a host route's bare address.
    private static func parse(_ destination: String) -> IPv4Subnet? {
        if let address = IPv4Address(destination) { return IPv4Subnet(base: address, prefixLength: 32) }
        let parts = destination.split(separator: "/")
        guard parts.count == 2, let base = IPv4Address(parts[0]), let length = Int(parts[1]), (0...32).contains(length)
        else { return nil }
        return IPv4Subnet(base: base, prefixLength: length)
    }

    private static func decode<T: Decodable>(_ text: String, _ command: String) throws(NetworkError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw .commandFailed(command: command, status: "printed JSON Amber cannot read", message: "\(error)")
        }
    }
}
