import AmberSystem
import Foundation
import Glibc
import Testing

/// Taps in a network namespace of the test's own (never the host's).
@Suite("Tap devices", .enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/net/tun")))
struct TapDeviceTests {
    @Test func attachingNeedsAnExistingTapOfAValidName() throws {
        let namespace = try PrivateNetworkNamespace()
        #expect(throws: SystemError("tap device missing0 does not exist", errno: ENODEV)) {
            try TapDevice.attach(name: "missing0", networkNamespacePath: namespace.path)
        }
        #expect(throws: SystemError.self) { try TapDevice.attach(name: "a-name-of-16-chr", networkNamespacePath: namespace.path) }
        #expect(throws: SystemError.self) { try TapDevice.attach(name: "tap0", networkNamespacePath: "/nonexistent/netns") }
        // Neither attempt created a tap: the namespace still has none.
        #expect(try namespace.run { if_nametoindex("missing0") } == 0)
    }

    @Test func aPersistentTapCanBeAttachedAndTakesOffloads() throws {
        let namespace = try PrivateNetworkNamespace()
        try namespace.run {
            _ = try TapDevice.create(name: "made0", persistent: true)
            #expect(throws: SystemError.self) { try TapDevice.create(name: "made0") }  // exists already
        }
        let tap = try TapDevice.attach(name: "made0", networkNamespacePath: namespace.path)
        try tap.setOffloads([.checksum, .tcpSegmentation4, .tcpSegmentation6, .tcpSegmentationECN])
        try tap.setOffloads([])
        #expect(throws: SystemError.self) { try tap.setOffloads([.tcpSegmentation4]) }  // TSO needs checksums
        // Non-blocking: nothing to read is nil, not a wait.
        var buffer = [UInt8](repeating: 0, count: 2048)
        #expect(try buffer.withUnsafeMutableBytes { try tap.read(into: $0) } == nil)
    }
}
