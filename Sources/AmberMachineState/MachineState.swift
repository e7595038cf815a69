#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything about a paused machine except its memory bytes (those go to the store): every vCPU,
/// the VM's interrupt controllers, PIT and kvmclock, the devices, and the memory layout the bytes
/// belong to. Encoded with a format version (`MachineState+Encoding.swift`); a decoded state is
/// untrusted until `validate()` accepts it, which decoding does.
public struct MachineState: Codable, Equatable, Sendable {
    public var memory: GuestMemoryLayoutState
    public var vcpus: [VCPUState]
    public var vm: VMState
    public var serial: Serial8250State
    // The i8042 has no state to save: no keyboard is attached and its reset line is an action.
    /// Each virtio-mmio device, in the order the VMM attached them.
    public var virtioDevices: [VirtioDeviceState]

    public static let maximumVCPUs = 256
    public static let maximumVirtioDevices = 64

    public init(
        memory: GuestMemoryLayoutState, vcpus: [VCPUState], vm: VMState, serial: Serial8250State,
        virtioDevices: [VirtioDeviceState]
    ) {
        self.memory = memory
        self.vcpus = vcpus
        self.vm = vm
        self.serial = serial
        self.virtioDevices = virtioDevices
    }

    /// Throws naming the first field that is out of range or inconsistent.
    public func validate() throws {
        guard (1...Self.maximumVCPUs).contains(vcpus.count) else {
            throw MachineStateError("machine state has \(vcpus.count) vCPUs, outside 1...\(Self.maximumVCPUs): the state is corrupt")
        }
        for (index, vcpu) in vcpus.enumerated() {
            guard vcpu.id == UInt32(index) else {
                throw MachineStateError("machine state lists vCPU \(vcpu.id) in place \(index): the state is corrupt")
            }
            try vcpu.validate()
        }
        try vm.validate()
        try memory.validate()
        guard serial.input.count <= Serial8250State.inputLimit else {
            throw MachineStateError(
                "saved serial input holds \(serial.input.count) bytes, more than \(Serial8250State.inputLimit): the state is corrupt")
        }
        guard virtioDevices.count <= Self.maximumVirtioDevices else {
            throw MachineStateError(
                "machine state has \(virtioDevices.count) virtio devices, more than \(Self.maximumVirtioDevices): the state is corrupt")
        }
        try virtioDevices.forEach { try $0.validate() }
    }
}
