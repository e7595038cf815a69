import Foundation
import Testing
@testable import AmberVMM

/// Writes the machine-state seeds of `Fuzz/corpus/machine-state` from real tiny guests (run with
/// `AMBER_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzSeedStates`): a whole state file, and the same
/// state's JSON alone, which the fuzz target frames with a correct header itself.
@Suite("Fuzz seed machine states", .enabled(if: kvmPresent && ProcessInfo.processInfo.environment["AMBER_WRITE_FUZZ_SEEDS"] != nil),
       .serialized)
struct FuzzSeedStates {
    @Test(arguments: [1, 2])
    func writeSeed(vcpus: Int) throws {
        let guest = try TinyGuest(vcpus: vcpus)
        for index in 0..<vcpus {
            try guest.load(RealMode.countForever(at: 0x2000 + UInt16(index) * 4), at: 0x1000 + UInt64(index) * 0x100, vcpu: index)
        }
        try guest.machine.start()
        defer { guest.machine.stop(.stopped); _ = guest.machine.waitForExit() }
        try guest.machine.pause()
        let encoded = try guest.machine.captureState().encoded()
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/machine-state")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let name = vcpus == 1 ? "seed-tiny-guest-1-vcpu" : "seed-tiny-guest-\(vcpus)-vcpus"
        try Data(encoded).write(to: directory.appendingPathComponent(name + ".state"))
        try Data(encoded[32...]).write(to: directory.appendingPathComponent(name + ".json"))
    }
}
