#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The two things about a saved machine that must be known before amber-vmm starts it: its memory
/// layout and how many vCPUs it has. `amber clone` reads just these from a state that was fully
/// decoded and checked when it was taken out of the store (amber-vmm decodes and checks all of it
/// again before the VM exists), which skips decoding every vCPU's registers on the clone's path.
public struct MachineShape: Decodable, Equatable, Sendable {
    public var memory: GuestMemoryLayoutState
    public var vcpuCount: Int

    public init(_ state: MachineState) {
        memory = state.memory
        vcpuCount = state.vcpus.count
    }

    private enum CodingKeys: String, CodingKey {
        case memory, vcpus
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        memory = try container.decode(GuestMemoryLayoutState.self, forKey: .memory)
        vcpuCount = try container.nestedUnkeyedContainer(forKey: .vcpus).count ?? 0
    }

    /// Reads a state file's header (checked as fully as `MachineState(contentsOf:)` checks it) and its
    /// memory layout and vCPU count.
    public init(contentsOf path: String) throws {
        let payload = try MachineState.payload(of: try MachineState.fileBytes(path))
        do {
            self = try JSONDecoder().decode(MachineShape.self, from: Data(payload))
        } catch let error as DecodingError {
            throw MachineStateError("machine state is corrupt: \(MachineState.summary(of: error))")
        }
        try memory.validate()
        guard (1...MachineState.maximumVCPUs).contains(vcpuCount) else {
            throw MachineStateError("machine state has \(vcpuCount) vCPUs, outside 1...\(MachineState.maximumVCPUs): the state is corrupt")
        }
    }
}
