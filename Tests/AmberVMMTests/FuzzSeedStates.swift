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
        let encoded = try capturedState(vcpus: vcpus).encoded()
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/machine-state")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let name = vcpus == 1 ? "seed-tiny-guest-1-vcpu" : "seed-tiny-guest-\(vcpus)-vcpus"
        try Data(encoded).write(to: directory.appendingPathComponent(name + ".state"))
        try Data(encoded[32...]).write(to: directory.appendingPathComponent(name + ".json"))
    }
}
