import AmberMachineState
import AmberSystem
import CKVM
import Glibc

/// A KVM virtual machine: memory slots, the in-kernel interrupt controllers and PIT, interrupt
/// lines, irqfd/ioeventfd, VM-wide state, and vCPU creation.
public final class KVMVirtualMachine: Sendable {
    public let descriptor: FileDescriptor
    public let system: KVMSystem

    init(descriptor: FileDescriptor, system: KVMSystem) {
        self.descriptor = descriptor
        self.system = system
    }

    private var fd: Int32 { descriptor.rawValue }

    /// Where KVM keeps the three-page TSS it needs on Intel; must lie outside guest RAM.
    public func setTSSAddress(_ address: UInt64) throws {
        try kvmIOControl(fd, CKVM_SET_TSS_ADDR, value: address, "KVM_SET_TSS_ADDR")
    }

    /// Where KVM keeps its identity-map page on Intel; set before any vCPU exists.
    public func setIdentityMapAddress(_ address: UInt64) throws {
        var value = address
        try kvmIOControl(fd, CKVM_SET_IDENTITY_MAP_ADDR, &value, "KVM_SET_IDENTITY_MAP_ADDR")
    }

    /// The in-kernel PIC pair, IOAPIC and per-vCPU LAPICs.
    public func createIRQChip() throws {
        try kvmIOControl(fd, CKVM_CREATE_IRQCHIP, nil, "KVM_CREATE_IRQCHIP")
    }

    /// The in-kernel PIT. `speakerDummy` (flags 1) emulates port 0x61, without which Linux cannot
    /// calibrate the TSC against the PIT and hangs.
    public func createPIT2(speakerDummy: Bool = true) throws {
        var config = kvm_pit_config()
        config.flags = speakerDummy ? 1 : 0
        try kvmIOControl(fd, CKVM_CREATE_PIT2, &config, "KVM_CREATE_PIT2")
    }

    /// Maps `size` bytes of host memory at `hostAddress` into the guest at `guestAddress`.
    /// A size of 0 deletes the slot.
    public func setMemoryRegion(
        slot: UInt32, guestAddress: UInt64, size: UInt64,
        hostAddress: UnsafeMutableRawPointer?, flags: UInt32 = 0
    ) throws {
        var region = kvm_userspace_memory_region()
        region.slot = slot
        region.flags = flags
        region.guest_phys_addr = guestAddress
        region.memory_size = size
        region.userspace_addr = UInt64(UInt(bitPattern: hostAddress))
        try kvmIOControl(
            fd, CKVM_SET_USER_MEMORY_REGION, &region,
            "KVM_SET_USER_MEMORY_REGION slot \(slot) at 0x\(String(guestAddress, radix: 16))")
    }

    /// Drives an interrupt line of the in-kernel PIC/IOAPIC (GSI `irq`) to `level`.
    public func setIRQLine(_ irq: UInt32, level: Bool) throws {
        var line = kvm_irq_level()
        line.irq = irq
        line.level = level ? 1 : 0
        try kvmIOControl(fd, CKVM_IRQ_LINE, &line, "KVM_IRQ_LINE \(irq)")
    }

    /// Raises then lowers an edge-triggered line, as the legacy ISA devices (the UART) do.
    public func pulseIRQLine(_ irq: UInt32) throws {
        try setIRQLine(irq, level: true)
        try setIRQLine(irq, level: false)
    }

    /// Signalling `eventFD` injects an interrupt on `gsi` without a trip through userspace.
    public func registerIRQFD(_ eventFD: EventFD, gsi: UInt32) throws {
        var request = kvm_irqfd()
        request.fd = UInt32(bitPattern: eventFD.descriptor.rawValue)
        request.gsi = gsi
        try kvmIOControl(fd, CKVM_IRQFD, &request, "KVM_IRQFD gsi \(gsi)")
    }

    public func unregisterIRQFD(_ eventFD: EventFD, gsi: UInt32) throws {
        var request = kvm_irqfd()
        request.fd = UInt32(bitPattern: eventFD.descriptor.rawValue)
        request.gsi = gsi
        request.flags = UInt32(KVM_IRQFD_FLAG_DEASSIGN)
        try kvmIOControl(fd, CKVM_IRQFD, &request, "KVM_IRQFD deassign gsi \(gsi)")
    }

    /// A guest write of `length` bytes at `address` (MMIO, or a port when `portIO`) signals
    /// `eventFD` inside the kernel instead of exiting to userspace; with `dataMatch`, only writes
    /// of that value do.
    public func registerIOEventFD(
        _ eventFD: EventFD, address: UInt64, length: UInt32,
        dataMatch: UInt64? = nil, portIO: Bool = false
    ) throws {
        var request = ioEventRequest(eventFD, address: address, length: length, dataMatch: dataMatch, portIO: portIO)
        try kvmIOControl(fd, CKVM_IOEVENTFD, &request, "KVM_IOEVENTFD at 0x\(String(address, radix: 16))")
    }

    public func unregisterIOEventFD(
        _ eventFD: EventFD, address: UInt64, length: UInt32,
        dataMatch: UInt64? = nil, portIO: Bool = false
    ) throws {
        var request = ioEventRequest(eventFD, address: address, length: length, dataMatch: dataMatch, portIO: portIO)
        request.flags |= UInt32(1 << kvm_ioeventfd_flag_nr_deassign)
        try kvmIOControl(fd, CKVM_IOEVENTFD, &request, "KVM_IOEVENTFD deassign at 0x\(String(address, radix: 16))")
    }

    private func ioEventRequest(
        _ eventFD: EventFD, address: UInt64, length: UInt32,
        dataMatch: UInt64?, portIO: Bool
    ) -> kvm_ioeventfd {
        var request = kvm_ioeventfd()
        request.addr = address
        request.len = length
        request.fd = eventFD.descriptor.rawValue
        if let dataMatch {
            request.datamatch = dataMatch
            request.flags |= UInt32(1 << kvm_ioeventfd_flag_nr_datamatch)
        }
        if portIO {
            request.flags |= UInt32(1 << kvm_ioeventfd_flag_nr_pio)
        }
        return request
    }

    public typealias IRQChip = AmberMachineState.IRQChip

    public func irqChip(_ chip: IRQChip) throws -> kvm_irqchip {
        var state = kvm_irqchip()
        state.chip_id = chip.rawValue
        try kvmIOControl(fd, CKVM_GET_IRQCHIP, &state, "KVM_GET_IRQCHIP \(chip)")
        return state
    }

    public func setIRQChip(_ state: kvm_irqchip) throws {
        var state = state
        let chip = state.chip_id
        try kvmIOControl(fd, CKVM_SET_IRQCHIP, &state, "KVM_SET_IRQCHIP \(chip)")
    }

    public func pit() throws -> kvm_pit_state2 {
        var state = kvm_pit_state2()
        try kvmIOControl(fd, CKVM_GET_PIT2, &state, "KVM_GET_PIT2")
        return state
    }

    public func setPIT(_ state: kvm_pit_state2) throws {
        var state = state
        try kvmIOControl(fd, CKVM_SET_PIT2, &state, "KVM_SET_PIT2")
    }

    public func clock() throws -> kvm_clock_data {
        var state = kvm_clock_data()
        try kvmIOControl(fd, CKVM_GET_CLOCK, &state, "KVM_GET_CLOCK")
        return state
    }

    public func setClock(_ state: kvm_clock_data) throws {
        var state = state
        try kvmIOControl(fd, CKVM_SET_CLOCK, &state, "KVM_SET_CLOCK")
    }

    /// Creates vCPU `id` (its APIC id) and maps its `kvm_run` area.
    public func createVCPU(id: UInt32) throws -> KVMVCPU {
        let vcpuFD = try kvmIOControl(fd, CKVM_CREATE_VCPU, value: UInt64(id), "KVM_CREATE_VCPU \(id)")
        let descriptor = FileDescriptor(owning: vcpuFD)
        let runArea = try MappedRegion(size: try system.vcpuMmapSize(), fd: descriptor)
        return KVMVCPU(id: id, descriptor: descriptor, runArea: runArea)
    }
}
