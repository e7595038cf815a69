/// Subnets for networks, and the one the default network gets.
enum NetworkSubnets {
    static func networkPrefixLengths(contains subnet: IPv4Subnet) -> Bool {
        IPv4Subnet.networkPrefixLengths.contains(subnet.prefixLength)
    }

    /// Where the default network may go, in order: /24s of 10.213.0.0 and up (rarely used by home routers,
    /// VPNs, Docker's 172.17/16 or libvirt's 192.168.122/24).
    static let defaultCandidates: [IPv4Subnet] = (213...252).map {
        IPv4Subnet(base: IPv4Address(UInt32(10) << 24 | UInt32($0) << 16), prefixLength: 24)
    }
}

extension Networks {
    /// Creates the default network on the first candidate subnet nothing uses; the caller holds the lock.
    /// `default` (nat) or `isolated` (no way out), made on the first free candidate subnet.
    func makeBuiltInNetwork(_ name: String) throws(NetworkError) -> NetworkDefinition {
        try NetworkAdmin.require("creating the \(name) network")
        var taken: [IPv4Subnet] = try HostAddresses.inUse().map(\.subnet)
        for other in names() {
            if let existing = try definition(other) { taken.append(existing.subnet) }
        }
        guard let subnet = NetworkSubnets.defaultCandidates.first(where: { candidate in !taken.contains { $0.overlaps(candidate) } })
        else {
            let candidates = NetworkSubnets.defaultCandidates
            throw .noFreeSubnet(tried: "\(candidates.first!) to \(candidates.last!)")
        }
        let network = NetworkDefinition(
            name: name, bridge: NetworkName.defaultBridge(for: name), subnet: subnet,
            kind: name == NetworkName.isolatedNetwork ? .isolated : .nat)
        try make(network)
        return network
    }
}
