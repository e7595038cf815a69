import Foundation
import Glibc

/// The network interfaces Amber makes, through iproute2: a network's bridge and each NIC's tap.
enum Links {
    /// Whether an interface named `name` exists in this network namespace (if_nametoindex asks the kernel of
    /// the namespace we run in; /sys/class/net may show another one's).
    static func exists(_ name: String) -> Bool {
        if_nametoindex(name) != 0
    }

    /// Makes bridge `name` with `address` (gateway/prefix) and brings it up.
    static func createBridge(_ name: String, address: IPv4Address, subnet: IPv4Subnet) throws(NetworkError) {
        try HostCommand.run(.ip, ["link", "add", "name", name, "type", "bridge"])
        do {
            try HostCommand.run(.ip, ["addr", "add", "\(address)/\(subnet.prefixLength)", "dev", name])
            try HostCommand.run(.ip, ["link", "set", "dev", name, "up"])
        } catch {
            delete(name)
            throw error
        }
    }

    /// Makes a persistent tap `name` that `ownerUID` may open (amber-vmm need not be root), with virtio-net
    /// headers (IFF_VNET_HDR; IFF_NO_PI is iproute2's default), on `bridge`, up.
    static func createTap(_ name: String, bridge: String, ownerUID: uid_t) throws(NetworkError) {
        try HostCommand.run(.ip, ["tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr", "user", String(ownerUID)])
        do {
            try HostCommand.run(.ip, ["link", "set", "dev", name, "master", bridge])
            try HostCommand.run(.ip, ["link", "set", "dev", name, "up"])
        } catch {
            delete(name)
            throw error
        }
    }

    /// Deletes bridge `name` if it exists and is a bridge (a damaged definition naming the host's eth0 deletes
    /// nothing); best effort, for undoing and removing.
    static func deleteBridge(_ name: String) {
        struct Link: Decodable {
            struct Info: Decodable {
                let kind: String?
                enum CodingKeys: String, CodingKey { case kind = "info_kind" }
            }
            let linkinfo: Info?
        }
        guard exists(name), let output = try? HostCommand.output(.ip, ["-d", "-j", "link", "show", "dev", name]), output.succeeded,
            let links = try? JSONDecoder().decode([Link].self, from: Data(output.standardOutput.utf8)),
            links.first?.linkinfo?.kind == "bridge"
        else { return }
        delete(name)
    }

    /// Deletes interface `name` if it exists; best effort, for undoing and removing.
    static func delete(_ name: String) {
        guard exists(name) else { return }
        _ = try? HostCommand.output(.ip, ["link", "del", "dev", name])
    }

    /// The bridge interface `name` is attached to, if any (from `ip -j link`: /sys/class/net may show another
    /// network namespace's links).
    static func master(of name: String) -> String? {
        struct Link: Decodable { let master: String? }
        guard let output = try? HostCommand.output(.ip, ["-j", "link", "show", "dev", name]), output.succeeded,
            let links = try? JSONDecoder().decode([Link].self, from: Data(output.standardOutput.utf8))
        else { return nil }
        return links.first?.master
    }
}
