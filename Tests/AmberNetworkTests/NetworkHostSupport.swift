import AmberTestSupport
import Foundation
import Glibc

@testable import AmberNetwork

/// A test's own network namespace and home for `Networks`, and ways to look at what the namespace holds.
final class NetworkTestBed: Sendable {
    let namespace: NetworkNamespace
    let home: TemporaryDirectory
    let networks: Networks

    init() throws {
        namespace = try NetworkNamespace()
        home = try TemporaryDirectory(prefix: "amber-net")
        networks = Networks(directory: home.path("networks"))
    }

    /// Kills what still runs in the namespace (dnsmasq, listeners) and deletes it.
    func remove() {
        namespace.remove()
    }

    /// Runs library code inside the namespace.
    @discardableResult
    func inside<T: Sendable>(_ body: @escaping @Sendable (Networks) throws -> T) throws -> T {
        let networks = self.networks
        return try namespace.perform { try body(networks) }
    }

    /// Runs a command in the namespace and returns its stdout; fails the test's expectation on a non-zero exit.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], timeout: Double = 30) throws -> CLIResult {
        try namespace.exec(executable, arguments, timeout: timeout)
    }

    func linkExists(_ name: String) throws -> Bool {
        try run(NetworkNamespace.ip, ["link", "show", "dev", name]).status == 0
    }

    /// The link's `master` (its bridge), from `ip -j link`.
    func master(of link: String) throws -> String? {
        let output = try run(NetworkNamespace.ip, ["-j", "link", "show", "dev", link]).stdout
        let links = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]]
        return links?.first?["master"] as? String
    }

    func tableExists(_ table: String) throws -> Bool {
        try run("/usr/sbin/nft", ["list", "table", "ip", table]).status == 0
    }

    /// Names of the processes running in the namespace.
    func processes() throws -> [String] {
        let pids = try runProcess(URL(fileURLWithPath: NetworkNamespace.ip), ["netns", "pids", namespace.name]).stdout
        return pids.split(whereSeparator: \.isNewline).compactMap { pid in
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
        }
    }

    /// Links of the namespace besides `lo`.
    func links() throws -> [String] {
        let output = try run(NetworkNamespace.ip, ["-j", "link", "show"]).stdout
        let links = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] ?? []
        return links.compactMap { $0["ifname"] as? String }.filter { $0 != "lo" }
    }

    func tables() throws -> String {
        try run("/usr/sbin/nft", ["list", "tables"]).stdout
    }

    /// A "guest" without a VM: namespace `guest` holding one end of a veth pair, whose other end is on `bridge`
    /// in the test's namespace; the guest end gets `mac`. Frames from it reach the bridge as a tap's would.
    func plugGuest(_ guest: NetworkNamespace, bridge: String, mac: String) throws {
        let host = "vh" + guest.name.suffix(8)
        let inside = "vg" + guest.name.suffix(8)
        try expectSuccess(run(NetworkNamespace.ip, ["link", "add", host, "type", "veth", "peer", "name", inside]))
        try expectSuccess(run(NetworkNamespace.ip, ["link", "set", inside, "netns", guest.name]))
        try expectSuccess(run(NetworkNamespace.ip, ["link", "set", host, "master", bridge, "up"]))
        try expectSuccess(guest.exec(NetworkNamespace.ip, ["link", "set", inside, "address", mac, "up"]))
    }

    func expectSuccess(_ result: CLIResult, _ what: String = "") throws {
        guard result.status == 0 else { throw NetworkNamespace.Failure(description: "\(what) failed: \(result.stderr)") }
    }
}

/// A UDP or TCP socket bound to `port` on every address, held until released: "a program on this host" using
/// a port (or dnsmasq's DNS port). Made inside a namespace by calling it from `NetworkNamespace.perform`.
final class HeldPort: Sendable {
    let descriptor: Int32

    init(port: UInt16, udp: Bool) throws {
        descriptor = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard descriptor >= 0, bound == 0, udp || listen(descriptor, 1) == 0 else {
            throw NetworkNamespace.Failure(description: "cannot hold port \(port): errno \(errno)")
        }
    }

    deinit { close(descriptor) }
}
