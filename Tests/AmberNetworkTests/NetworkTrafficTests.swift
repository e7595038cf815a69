import AmberTestSupport
import Foundation
import Testing

@testable import AmberNetwork

/// Traffic through a real network, all of it between namespaces the test makes: a "guest" namespace plugged into
/// the bridge (a veth with the NIC's MAC stands in for the tap) gets its static address from dnsmasq, and a
/// "client" namespace reaches the guest through a published port.
@Suite("Network traffic", .enabled(if: NetworkNamespace.available && FileManager.default.isExecutableFile(atPath: "/usr/bin/busybox")))
struct NetworkTrafficTests {
    static let busybox = "/usr/bin/busybox"
    static let mac = "52:54:00:10:20:30"

    @Test func aGuestGetsItsStaticAddressFromDnsmasq() throws {
        let bed = try NetworkTestBed()
        let guest = try NetworkNamespace(prefix: "amber-g")
        defer {
            guest.remove()
            bed.remove()
        }
        try bed.inside { try $0.create(name: "lan", subnet: try .parse("10.63.0.0/24")) }
        // Another NIC first, so the guest's address is not simply the first one.
        _ = try bed.inside { try $0.attach(vm: "other", network: "lan", mac: "52:54:00:00:00:09", ownerUID: 0) }
        let attachment = try bed.inside { try $0.attach(vm: "vm1", network: "lan", mac: Self.mac, ownerUID: 0) }
        try bed.plugGuest(guest, bridge: "amber-lan", mac: Self.mac)

        let scratch = try TemporaryDirectory(prefix: "amber-dhcp")
        let script = scratch.path("udhcpc.sh")
        let leased = scratch.path("leased")
        try "#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip $router $dns\" > \(leased)\nexit 0\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        // At most 5 discovers a second apart, then give up (-n); quit once bound (-q).
        let client = try guest.exec(
            Self.busybox, ["udhcpc", "-i", "vg" + guest.name.suffix(8), "-n", "-q", "-t", "5", "-T", "1", "-s", script], timeout: 30)
        #expect(client.status == 0, "udhcpc: \(client.stderr)")
        let answer = try String(contentsOfFile: leased, encoding: .utf8)
        #expect(answer == "\(attachment.ipv4) 10.63.0.1 10.63.0.1\n")
        #expect(attachment.ipv4.description == "10.63.0.3")
    }

    @Test func aPublishedPortReachesTheGuest() throws {
        let bed = try NetworkTestBed()
        let guest = try NetworkNamespace(prefix: "amber-g")
        let client = try NetworkNamespace(prefix: "amber-c")
        defer {
            client.remove()
            guest.remove()
            bed.remove()
        }
        try bed.inside { try $0.create(name: "lan", subnet: try .parse("10.64.0.0/24")) }
        let attachment = try bed.inside { try $0.attach(vm: "vm1", network: "lan", mac: Self.mac, ownerUID: 0) }
        try bed.plugGuest(guest, bridge: "amber-lan", mac: Self.mac)
        let guestLink = "vg" + guest.name.suffix(8)
        try bed.expectSuccess(guest.exec(NetworkNamespace.ip, ["addr", "add", "\(attachment.ipv4)/24", "dev", guestLink]))
        try bed.expectSuccess(guest.exec(NetworkNamespace.ip, ["route", "add", "default", "via", "10.64.0.1"]))
        // The client is another machine on the host's outside: a veth from the test's namespace.
        let outside = "vo" + client.name.suffix(8)
        let clientLink = "vc" + client.name.suffix(8)
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["link", "add", outside, "type", "veth", "peer", "name", clientLink]))
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["link", "set", clientLink, "netns", client.name]))
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["addr", "add", "10.99.0.1/24", "dev", outside]))
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["link", "set", outside, "up"]))
        try bed.expectSuccess(client.exec(NetworkNamespace.ip, ["addr", "add", "10.99.0.2/24", "dev", clientLink]))
        try bed.expectSuccess(client.exec(NetworkNamespace.ip, ["link", "set", clientLink, "up"]))

        let site = try TemporaryDirectory(prefix: "amber-site")
        try "served by the guest\n".write(toFile: site.path("index.html"), atomically: true, encoding: .utf8)
        let server = try guest.start(Self.busybox, ["httpd", "-f", "-p", "80", "-h", site.url.path])
        // SIGKILL: the server inherits the test thread's signal mask, which may block SIGTERM.
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }

        try bed.inside { try $0.publish(vm: "vm1", ports: [try .parse("8080:80")]) }
        let table = try bed.run("/usr/sbin/nft", ["-j", "list", "table", "ip", "amber_lan"]).stdout
        #expect(table.contains("\"dnat\"") && table.contains("8080"), "\(table)")

        // Bounded: each fetch gives up after 3 s, and at most 10 are tried while the guest's link comes up.
        var page = ""
        for _ in 0..<10 where !page.hasSuffix("served by the guest\n") {
            page = try fetch(from: client, "10.99.0.1", port: 8080)
            if page.isEmpty { usleep(200_000) }
        }
        #expect(page.hasPrefix("HTTP/1.") && page.hasSuffix("\r\n\r\nserved by the guest\n"), "\(page)")

        // Taken ports: by another VM, by a program on the host; refused without changing anything.
        _ = try bed.inside { try $0.attach(vm: "vm2", network: "lan", mac: "52:54:00:00:00:02", ownerUID: 0) }
        #expect(throws: NetworkError.portTaken(try .parse("8080:81"), by: "VM vm1")) {
            try bed.inside { try $0.publish(vm: "vm2", ports: [try .parse("8080:81")]) }
        }
        let held = try bed.namespace.perform { try HeldPort(port: 8081, udp: false) }
        #expect(throws: NetworkError.portTaken(try .parse("8081:80"), by: "a program on this host")) {
            try bed.inside { try $0.publish(vm: "vm2", ports: [try .parse("8081:80")]) }
        }
        withExtendedLifetime(held) {}

        // Unpublished: the rule goes, and the port no longer leads to the guest.
        try bed.inside { try $0.unpublish(vm: "vm1") }
        #expect(try fetch(from: client, "10.99.0.1", port: 8080).isEmpty)
    }

    /// An HTTP/1.0 GET of /index.html through busybox nc (its wget crashes in the static build), 3 s at most;
    /// the whole answer, headers too, or "" when nothing answered.
    private func fetch(from client: NetworkNamespace, _ address: String, port: Int) throws -> String {
        try client.exec(
            "/bin/sh", ["-c", "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | \(Self.busybox) nc -w 3 \(address) \(port)"], timeout: 10
        ).stdout
    }
}
