import AmberKVM
import AmberMachineState
import CKVM

/// The part of a machine that costs kernel time to build: the KVM VM with its irqchip and PIT, its vCPUs,
/// their CPUID, and the memory slots over `memory` (KVM_SET_USER_MEMORY_REGION alone takes 4-10 ms for 1 GiB on PVM,
/// which allocates the slot's reverse map up front). Built on its own so amber-vmm can build it while it
/// is still reading its configuration and the snapshot's state; `Machine` adds the devices.
public final class PreparedVM: Sendable {
    let vm: KVMVirtualMachine
    let vcpus: [KVMVCPU]
    public let memory: GuestRAM

    public init(memory: GuestRAM, vcpuCount: Int) throws {
        guard vcpuCount >= 1 else { throw MachineError("a machine needs at least one vCPU") }
        let system = try KVMSystem()
        try system.require([
            (KVM_CAP_IRQCHIP, "IRQCHIP"), (KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"),
            (KVM_CAP_IRQFD, "IRQFD"), (KVM_CAP_IOEVENTFD, "IOEVENTFD"), (KVM_CAP_PIT2, "PIT2"),
        ])
        let vm = try system.createVM()
        try vm.setTSSAddress(Machine.tssAddress)
        try vm.setIdentityMapAddress(Machine.identityMapAddress)
        try vm.createIRQChip()
        try vm.createPIT2(speakerDummy: true)
        let vcpus = try (0..<vcpuCount).map { try vm.createVCPU(id: UInt32($0)) }
        self.vm = vm
        self.vcpus = vcpus
        self.memory = memory
        for (slot, region) in memory.regions.enumerated() {
            try vm.setMemoryRegion(
                slot: UInt32(slot), guestAddress: region.guestAddress, size: region.size,
                hostAddress: memory.hostAddress(of: region))
        }
        let cpuid = try system.supportedCPUID()
        for vcpu in vcpus {
            try CPUSetup.configure(vcpu, vcpuCount: vcpuCount, supportedCPUID: cpuid)
        }
    }
}
