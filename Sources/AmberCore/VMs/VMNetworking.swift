import AmberControl
import AmberNetwork
import Glibc

/// A VM's NICs on the host: attached when it runs, attached again where they were when it rolls back (same tap,
/// MAC and address), put in a namespace of their own for a clone, released when it is removed.
struct VMNetworking {
    let networks: Networks

    init(home: AmberHome) {
        networks = home.networks
    }

    /// `amber run --net CHOICE [--mac M] [--publish P...]`: the NIC's configuration, its tap made and (on an
    /// Amber network) its address leased and ports published. The MAC is `mac`, else the one the VM had
    /// (`previous`: its last configuration), else a new random one, so a VM keeps its MAC and address.
    func attachForRun(
        vm: String, choice: NetworkChoice, mac: String?, publish: [String], previous: VMConfiguration?
    ) throws -> [NetworkInterfaceConfiguration] {
        let ports = try publish.map { text throws -> PublishedPort in try PublishedPort.parse(text) }
        let address: String
        if let mac {
            guard let parsed = MACAddress(mac.lowercased()), parsed.isUnicast, !parsed.isZero else { throw VMRequestError.badMAC(mac) }
            address = parsed.description
        } else {
            address = previous?.networkInterfaces.first?.macAddress ?? MACAddress.randomLocallyAdministered().description
        }
        switch choice {
        case .none:
            guard ports.isEmpty else { throw VMRequestError.publishWithoutNetwork(choice) }
            return []
        case .bridge(let bridge):
            guard ports.isEmpty else { throw VMRequestError.publishWithoutNetwork(choice) }
            let tap = try networks.attachToBridge(vm: vm, bridge: bridge, ownerUID: getuid())
            return [NetworkInterfaceConfiguration(tapName: tap, macAddress: address, network: choice.description)]
        case .network(let name):
            let attachment = try networks.attach(vm: vm, network: name, mac: address, ownerUID: getuid())
            do {
                try networks.publish(vm: vm, ports: ports)
            } catch {
                try? networks.detach(vm: vm)
                throw error
            }
            return [NetworkInterfaceConfiguration(tapName: attachment.tap, macAddress: attachment.mac, network: name)]
        }
    }

    /// A rollback: each NIC of the snapshot's configuration on its network again, with the snapshot's MAC (the
    /// guest remembers it), keeping the NIC's address and published ports, on the NIC's tap that the VM being
    /// replaced (`current`: its NICs now) does not hold (see `TapName`).
    func reattach(vm: String, _ interfaces: [NetworkInterfaceConfiguration], current: [NetworkInterfaceConfiguration]) throws
        -> [NetworkInterfaceConfiguration]
    {
        var result: [NetworkInterfaceConfiguration] = []
        for (nic, interface) in interfaces.enumerated() {
            var again = interface
            let primary = TapName.of(vm: vm, nic: nic, networksDirectory: networks.directory)
            let alternate = nic < current.count && current[nic].tapName == primary
            switch interface.network {
            case nil:
                break
            case VMNetworking.cloneNetwork?:
                let isolated = try networks.isolateClone(vm: vm, nics: interfaces.count, ownerUID: getuid(), alternateTaps: alternate)
                again.tapName = isolated.taps[nic]
                again.networkNamespacePath = isolated.namespacePath
            case let choice?:
                switch try NetworkChoice.parse(choice) {
                case .none: break
                case .bridge(let bridge):
                    again.tapName = try networks.attachToBridge(
                        vm: vm, nic: nic, bridge: bridge, ownerUID: getuid(), alternateTap: alternate)
                case .network(let name):
                    again.tapName = try networks.attach(
                        vm: vm, network: name, mac: interface.macAddress, nic: nic, ownerUID: getuid(), alternateTap: alternate
                    ).tap
                }
            }
            result.append(again)
        }
        return result
    }

    /// What a clone's NICs say in its configuration: the origin's MACs, on taps in the clone's own namespace.
    static let cloneNetwork = "clone"

    /// A clone: its origin's NICs (same MACs: the guest's memory holds them) on taps in a network namespace of
    /// the clone's own, so the origin's address is nobody else's there.
    func isolateClone(vm: String, _ interfaces: [NetworkInterfaceConfiguration]) throws -> [NetworkInterfaceConfiguration] {
        guard !interfaces.isEmpty else { return [] }
        let isolated = try networks.isolateClone(vm: vm, nics: interfaces.count, ownerUID: getuid())
        return zip(interfaces, isolated.taps).map { interface, tap in
            NetworkInterfaceConfiguration(
                tapName: tap, macAddress: interface.macAddress, networkNamespacePath: isolated.namespacePath,
                network: Self.cloneNetwork)
        }
    }

    /// Everything the VM's NICs hold on the host: taps, addresses, published ports, a clone's namespace.
    func release(vm: String, _ interfaces: [NetworkInterfaceConfiguration]) throws {
        // A `bridge:` NIC's tap is known only by its derived name (no network records it); the first NIC's is
        // looked for even when the configuration was never written (a launch that failed early).
        for nic in 0..<max(interfaces.count, 1) {
            networks.removeTap(vm: vm, nic: nic)
        }
        networks.removeCloneNamespace(vm: vm)
        try networks.detach(vm: vm)
    }

    /// Whether the VM holds anything on the host's network (an attachment, a clone namespace).
    func holdsAnything(vm: String, _ interfaces: [NetworkInterfaceConfiguration]) -> Bool {
        !interfaces.isEmpty || !((try? networks.attachments(of: vm))?.isEmpty ?? true)
    }
}
