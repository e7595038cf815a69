import AmberKVM
import AmberMachineState
import AmberSystem

extension Machine {
    /// Builds a new machine (new VM, new vCPUs) that continues from `state`, over `memory`: a file
    /// holding the captured guest memory (a memfd or a file materialized from the store), mapped as
    /// `sharing` says. The machine is left created, not started: attach its virtio devices as the
    /// original had them, call `restoreVirtioDevices`, then `start()`.
    ///
    /// Order (docs/KVM.md): each vCPU's state, then the PIT, kvmclock and interrupt controllers,
    /// then the serial port. kvmclock continues from the captured reading (see
    /// `KVMVirtualMachine.restoreState`): the guest's clocks do not count the time spent on disk.
    public static func restore(
        state: MachineState, memory file: FileDescriptor, sharing: GuestRAM.FileSharing,
        configuration: MachineConfiguration
    ) throws -> Machine {
        try state.validate()
        try Self.check(state, fits: configuration)
        let ram = try GuestRAM(file: file, regions: state.memory.guestRAMRegions, sharing: sharing)
        let machine = try Machine(configuration, memory: ram)
        try machine.restoreProcessorsAndDevices(from: state)
        return machine
    }

    /// Sets a new machine, built before its state was read (amber-vmm builds it while it reads the
    /// state), to `state`: refused unless the machine has the state's vCPUs and memory layout.
    public func restore(from state: MachineState) throws {
        try state.validate()
        guard vcpus.count == state.vcpus.count else {
            throw MachineStateError(
                "the snapshot has \(state.vcpus.count) vCPUs but the machine to restore has \(vcpus.count): restore with the snapshot's vCPU count"
            )
        }
        guard memory.regions == state.memory.guestRAMRegions else {
            throw MachineStateError(
                "the snapshot's guest memory layout differs from the machine's: restore with the snapshot's memory size")
        }
        try restoreProcessorsAndDevices(from: state)
    }

    private static func check(_ state: MachineState, fits configuration: MachineConfiguration) throws {
        guard configuration.vcpuCount == state.vcpus.count else {
            throw MachineStateError(
                "the snapshot has \(state.vcpus.count) vCPUs but the machine to restore was configured with \(configuration.vcpuCount): restore with the snapshot's vCPU count"
            )
        }
        guard configuration.memoryBytes == state.memory.totalBytes else {
            throw MachineStateError(
                "the snapshot has \(state.memory.totalBytes) bytes of memory but the machine to restore was configured with \(configuration.memoryBytes): restore with the snapshot's memory size"
            )
        }
    }

    private func restoreProcessorsAndDevices(from state: MachineState) throws {
        guard currentState == .created else {
            throw MachineError("VM \(name) has already run: state can only be restored into a new machine")
        }
        let xsaveSize = kvm.system.xsaveSize
        for (vcpu, saved) in zip(vcpus, state.vcpus) {
            // The MSR list matters to saving only: restoring sets the MSRs the state holds.
            try PersistedVCPU(vcpu: vcpu, msrIndices: [], xsaveSize: xsaveSize).restore(saved)
        }
        try kvm.restore(state.vm)
        try serial.restore(state.serial)
    }

    /// Puts each saved virtio device's state onto the device attached at the same place (after their
    /// irqfd and ioeventfd are registered): queue positions, registers, and a pending interrupt,
    /// which the transport signals again.
    public func restoreVirtioDevices(_ saved: [VirtioDeviceState], onto attached: [VirtioDeviceAttachment]) throws {
        guard saved.count == attached.count else {
            throw MachineStateError(
                "the snapshot has \(saved.count) virtio devices but \(attached.count) are attached: attach the snapshot's devices")
        }
        for (state, device) in zip(saved, attached) {
            try device.restore(state)
        }
    }
}
