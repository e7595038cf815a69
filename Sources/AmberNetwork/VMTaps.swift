import Foundation
import Glibc

/// Taps that are not on one of Amber's networks: on a bridge the user runs (`--net bridge:NAME`), and a clone's,
/// in a network namespace of the clone's own.
extension Networks {
    /// `--net bridge:NAME`: a tap for NIC `nic` of `vm` on the user's bridge `bridge`, which must exist. The
    /// bridge's owner provides addresses and routing; Amber adds and removes only the tap.
    public func attachToBridge(vm: String, nic: Int = 0, bridge: String, ownerUID: uid_t, alternateTap: Bool = false)
        throws(NetworkError) -> String
    {
        try NetworkName.validateLink(bridge, network: "bridge:\(bridge)")
        try NetworkAdmin.require("attaching VM \(vm) to bridge \(bridge)")
        guard Links.exists(bridge) else { throw .unknownBridge(bridge) }
        let tap = TapName.of(vm: vm, nic: nic, networksDirectory: directory, alternate: alternateTap)
        if Links.exists(tap), Links.master(of: tap) == bridge { return tap }
        Links.delete(tap)
        try Links.createTap(tap, bridge: bridge, ownerUID: ownerUID)
        return tap
    }

    /// Deletes the taps of NIC `nic` of `vm` that exist (a `bridge:` NIC's; a network's go with `detach`).
    public func removeTap(vm: String, nic: Int) {
        TapName.both(vm: vm, nic: nic, networksDirectory: directory).forEach(Links.delete)
    }

    /// A clone's guest memory holds its origin's MAC and address, so its NICs cannot join the origin's network:
    /// each clone gets a network namespace of its own (`/run/netns/<name>`) holding one tap per NIC, where the
    /// guest's identity conflicts with nobody. Returns the namespace's path and the taps' names; undone when a
    /// step fails. A rollback of the clone (`alternateTaps`: the running one still holds its taps, see `TapName`)
    /// adds the NICs' other taps to the namespace it has; otherwise the namespace is made anew.
    public func isolateClone(vm: String, nics: Int, ownerUID: uid_t, alternateTaps: Bool = false) throws(NetworkError)
        -> (namespacePath: String, taps: [String])
    {
        try NetworkAdmin.require("giving clone \(vm) a network namespace")
        let namespace = Self.cloneNamespace(of: vm, networksDirectory: directory)
        let path = Self.namespaceDirectory + "/" + namespace
        let wanted = (0..<nics).map { TapName.of(vm: vm, nic: $0, networksDirectory: directory, alternate: alternateTaps) }
        if alternateTaps, access(path, F_OK) == 0 {
            for tap in wanted where (try? HostCommand.output(.ip, ["-n", namespace, "link", "show", "dev", tap]))?.succeeded != true {
                try HostCommand.run(
                    .ip, ["-n", namespace, "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr", "user", String(ownerUID)])
                try HostCommand.run(.ip, ["-n", namespace, "link", "set", "dev", tap, "up"])
            }
            return (path, wanted)
        }
        removeCloneNamespace(vm: vm)
        try HostCommand.run(.ip, ["netns", "add", namespace])
        do {
            try HostCommand.run(.ip, ["-n", namespace, "link", "set", "dev", "lo", "up"])
            for tap in wanted {
                try HostCommand.run(
                    .ip, ["-n", namespace, "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr", "user", String(ownerUID)])
                try HostCommand.run(.ip, ["-n", namespace, "link", "set", "dev", tap, "up"])
            }
            return (path, wanted)
        } catch {
            removeCloneNamespace(vm: vm)
            throw error
        }
    }

    /// Deletes the clone's namespace and its taps with it, if it exists; best effort.
    public func removeCloneNamespace(vm: String) {
        let namespace = Self.cloneNamespace(of: vm, networksDirectory: directory)
        guard access(Self.namespaceDirectory + "/" + namespace, F_OK) == 0 else { return }
        _ = try? HostCommand.output(.ip, ["netns", "del", namespace])
    }

    /// Where iproute2 keeps named network namespaces.
    static let namespaceDirectory = "/run/netns"

    /// `amberclone-` and the 11 hex digits of the clone's tap name: stable and distinct per home and VM.
    static func cloneNamespace(of vm: String, networksDirectory: String) -> String {
        "amberclone-" + TapName.of(vm: vm, nic: 0, networksDirectory: networksDirectory).dropFirst(3)
    }
}
