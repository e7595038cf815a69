import Foundation

extension Networks {
    /// Creates network `name` on `subnet` with its bridge (`amber-<name>` unless `bridge` names one), table and
    /// dnsmasq. Refused, with nothing made, for a bad or taken name, a bridge name the kernel would refuse or
    /// one that exists, a subnet that overlaps another network's or an address or route of the host.
    @discardableResult
    public func create(name: String, subnet: IPv4Subnet, kind: NetworkDefinition.Kind = .nat, bridge: String? = nil)
        throws(NetworkError) -> NetworkDefinition
    {
        try NetworkName.validate(name)
        let network = NetworkDefinition(name: name, bridge: bridge ?? NetworkName.defaultBridge(for: name), subnet: subnet, kind: kind)
        try NetworkName.validateLink(network.bridge, network: name)
        guard NetworkSubnets.networkPrefixLengths(contains: subnet) else {
            throw .badSubnet(
                "\(subnet)", reason: "a network's prefix must be /8 to /29 (room for a gateway and guests, not the whole address space)")
        }
        try NetworkAdmin.require("creating network \(name)")
        return try locked { () throws(NetworkError) -> NetworkDefinition in
            guard try definition(name) == nil else { throw .nameTaken(name) }
            try checkFree(subnet, bridge: network.bridge)
            try make(network)
            return network
        }
    }

    /// Makes a network whose name and subnet are checked; the caller holds the lock.
    func make(_ network: NetworkDefinition) throws(NetworkError) {
        for tool in HostTool.allCases { _ = try tool.path() }
        guard !Links.exists(network.bridge) else { throw .linkExists(network.bridge) }
        let files = files(network.name)
        try Undo.running { (undo: inout Undo) throws(NetworkError) in
            try JSONFile.makeDirectory(files.directory)
            undo.push { try? FileManager.default.removeItem(atPath: files.directory) }
            try JSONFile.write(network, to: files.definition)
            try bringUp(network, undo: &undo)
        }
    }

    /// Refuses a subnet another network or the host uses, and a bridge name another network has.
    func checkFree(_ subnet: IPv4Subnet, bridge: String) throws(NetworkError) {
        for other in names() {
            guard let existing = try definition(other) else { continue }
            if existing.subnet.overlaps(subnet) {
                throw .subnetOverlapsNetwork(subnet, network: other, subnet: existing.subnet)
            }
            if existing.bridge == bridge { throw .linkExists(bridge) }
        }
        if let used = try HostAddresses.inUse().first(where: { $0.subnet.overlaps(subnet) }) {
            throw .subnetOverlapsHost(subnet, what: used.what)
        }
    }

    /// Removes network `name` from the host (dnsmasq, table, bridge) and its directory. Refused while a VM has
    /// a NIC on it.
    public func remove(_ name: String) throws(NetworkError) {
        _ = try existingDefinition(name)
        try NetworkAdmin.require("removing network \(name)")
        try locked { () throws(NetworkError) in
            let network = try existingDefinition(name)
            if let user = try attachmentTable(name).attachments.first { throw .inUse(network: name, vm: user.vm) }
            tearDown(network)
            do {
                try FileManager.default.removeItem(atPath: files(name).directory)
            } catch {
                throw .io(path: files(name).directory, cause: .init(error))
            }
        }
    }
}
