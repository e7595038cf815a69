import AmberControl
import AmberSystem
import AmberTestSupport
import Foundation
import Testing
@testable import AmberVMM

/// amber-vmm with NICs, as `amber` runs it: the tap opened before the jail, the worker confined by its filter.
@Suite(
    "amber-vmm executable with a NIC",
    .enabled(if: kvmPresent && runsAsRoot && tunPresent && FileManager.default.isExecutableFile(atPath: vmmBinary)), .serialized)
struct NetExecutableTests {
    @Test func aMissingTapExitsTwoWithOneLine() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let namespace = try PrivateNetworkNamespace()
        var configuration = try scratch.configuration(entryCode: LongMode.powerOff)
        configuration.networkInterfaces = [
            NetworkInterfaceConfiguration(tapName: "nosuchtap", macAddress: "52:54:00:00:00:01", networkNamespacePath: namespace.path)
        ]
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration)])
        #expect(outcome.status == 2)
        #expect(
            outcome.stderr
                == "amber-vmm: tap device nosuchtap does not exist: No such device (network namespace \(namespace.path)): create the tap first (the VM's network set-up does)\n"
        )
    }

    @Test func anInvalidMACExitsTwoWithOneLine() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var configuration = try scratch.configuration(entryCode: LongMode.powerOff)
        configuration.networkInterfaces = [NetworkInterfaceConfiguration(tapName: "tap0", macAddress: "01:00:5e:00:00:01")]
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration)])
        #expect(outcome.status == 2)
        #expect(
            outcome.stderr
                == "amber-vmm: MAC address 01:00:5e:00:00:01 is not a unicast address: use one whose first byte is even, like 52:54:00:ab:cd:ef\n"
        )
    }

    /// The guest drives the NIC itself after amber-vmm confined itself: its frame reaches the tap, the frame
    /// the test sends reaches it, and it powers off.
    @Test func aConfinedVMMSendsAndReceivesFrames() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let network = try TapInNamespace()
        let sent = TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Array("hello from a confined guest".utf8))
        var configuration = try scratch.configuration(entryCode: NetDriverGuest.code(sending: sent))
        configuration.networkInterfaces = [network.interface]
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration)]) { _ in
            #expect(network.nextFrame(within: 30) == sent)
            try network.inject(TapInNamespace.frame(to: GuestWithNIC.guestMAC, from: [2, 0, 0, 0, 0, 1], payload: [1, 2, 3]))
        }
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("1 NIC(s)"))
        #expect(outcome.stderr.contains("NIC on tap amtap0: 1 frames sent, 1 received, 0 refused"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("seccomp filters on every thread"))
        #expect(try String(contentsOfFile: configuration.consoleLogPath!, encoding: .utf8) == NetDriverGuest.received)
    }
}
