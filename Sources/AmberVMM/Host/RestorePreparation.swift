import AmberControl
import AmberMachineState
import AmberSystem
import Glibc

/// What amber-vmm needs to start building a restored VM before it has read its configuration: the
/// snapshot's memory file, the memory size and the vCPU count. `amber` puts them on amber-vmm's command
/// line as well as in the configuration, so creating the VM and its memory slot (milliseconds of kernel
/// time on PVM) overlaps decoding the configuration and the snapshot's state.
public struct RestorePreparation: Equatable, Sendable {
    public var memoryPath: String
    public var memoryBytes: UInt64
    public var vcpus: Int

    public init(memoryPath: String, memoryBytes: UInt64, vcpus: Int) {
        self.memoryPath = memoryPath
        self.memoryBytes = memoryBytes
        self.vcpus = vcpus
    }

    /// Opens the memory file (mapped copy-on-write: every VM restored from it shares the pages it has
    /// not written, and the file never changes) and starts building the VM over it on another thread.
    /// The layout is the one every VM of this memory size has; the state is refused later if its differs.
    public func start() throws -> PendingRestore {
        guard (1...MachineState.maximumVCPUs).contains(vcpus), memoryBytes > 0,
            memoryBytes <= GuestMemoryLayoutState.maximumTotalBytes
        else {
            throw ConfigurationError("a restore of \(memoryBytes) bytes with \(vcpus) vCPUs is not possible")
        }
        let memory: FileDescriptor
        do {
            memory = try FileDescriptor.open(memoryPath, O_RDONLY)
        } catch {
            throw ConfigurationError("snapshot memory \(memoryPath) cannot be opened (\(error)): take the snapshot out of the store again")
        }
        let regions = GuestRAM.Region.layout(memoryBytes: memoryBytes)
        let vcpus = vcpus
        let work = try BackgroundWork(name: "kvm-setup") {
            try PreparedVM(memory: GuestRAM(file: memory, regions: regions, sharing: .privateCopyOnWrite), vcpuCount: vcpus)
        }
        return PendingRestore(preparation: self, work: work)
    }
}

/// A VM being built for a restore on another thread.
public final class PendingRestore: Sendable {
    public let preparation: RestorePreparation
    private let work: BackgroundWork<PreparedVM>

    init(preparation: RestorePreparation, work: BackgroundWork<PreparedVM>) {
        self.preparation = preparation
        self.work = work
    }

    /// The VM, once built (rethrows what building it threw).
    func wait() throws -> PreparedVM {
        try work.wait()
    }
}
