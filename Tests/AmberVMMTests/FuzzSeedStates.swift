import AmberMachineState
import Foundation
import Testing
@testable import AmberVMM

/// Writes the machine-state seeds of `Fuzz/corpus/machine-state` from real tiny guests (run with
/// `AMBER_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzSeedStates`): a whole state file, and the same
/// state's JSON alone, which the fuzz target frames with a correct header itself.
@Suite(
    "Fuzz seed machine states", .enabled(if: kvmPresent && ProcessInfo.processInfo.environment["AMBER_WRITE_FUZZ_SEEDS"] != nil),
    .serialized)
struct FuzzSeedStates {
    @Test(arguments: [1, 2])
    func writeSeed(vcpus: Int) throws {
        try write(try capturedState(vcpus: vcpus).encoded(), name: vcpus == 1 ? "seed-tiny-guest-1-vcpu" : "seed-tiny-guest-\(vcpus)-vcpus")
    }

    /// A guest whose NIC was driven (queues set up, a frame sent), so the seed holds a network device's state.
    @Test(.enabled(if: runsAsRoot && tunPresent))
    func writeSeedWithANIC() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        try guest.driver.transmit(TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: [1, 2, 3]))
        #expect(guest.driver.waitForUsed(1, 1))
        try guest.running.host.machine.pause()
        defer { try? guest.running.host.machine.resume() }
        try write(
            try guest.running.host.machine.captureState(virtioDevices: guest.running.host.virtioDevices).encoded(),
            name: "seed-tiny-guest-nic")
    }

    private func write(_ encoded: [UInt8], name: String) throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/machine-state")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(encoded).write(to: directory.appendingPathComponent(name + ".state"))
        try Data(encoded[32...]).write(to: directory.appendingPathComponent(name + ".json"))
    }
}
