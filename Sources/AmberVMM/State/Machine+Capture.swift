import AmberKVM
import AmberMachineState

extension Machine {
    /// Reads the whole state of a paused machine: every vCPU (in docs/KVM.md's order), then the PIT,
    /// kvmclock and interrupt controllers, then the devices. `pause()` has already taken every vCPU
    /// out of KVM_RUN with its last I/O completed, and stopped the devices' workers, so no block
    /// request is in flight. The memory bytes are not part of it: read them while the machine
    /// stays paused, or from a `MemoryHolder` made while it was.
    public func captureState(virtioDevices: [VirtioDeviceAttachment] = []) throws -> MachineState {
        guard currentState == .paused else {
            throw MachineError("VM \(name) is \(currentState), not paused: pause it before capturing its state")
        }
        let msrIndices = try kvm.system.snapshotMSRIndices()
        let xsaveSize = kvm.system.xsaveSize
        let vcpuStates = try vcpus.map { try PersistedVCPU(vcpu: $0, msrIndices: msrIndices, xsaveSize: xsaveSize).save() }
        let vmState = try kvm.save()
        return MachineState(
            memory: GuestMemoryLayoutState(memory.regions), vcpus: vcpuStates, vm: vmState,
            serial: serial.save(), virtioDevices: virtioDevices.map { $0.save() })
    }
}
