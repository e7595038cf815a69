import AmberKVM
import AmberMachineState
import AmberVirtio

/// A part of the machine whose state a snapshot carries: `save()` reads it (the machine paused),
/// `restore(_:)` puts it back into a new machine that has not run. `MachineState` is made of these
/// states, in the order `Machine.captureState` lists them; every device conforms, also one without
/// state (`NoState`), so a new device says what it keeps rather than forgetting it.
public protocol Persistable {
    /// Encoded into `MachineState` as JSON: a field renamed or changed in meaning needs a new
    /// `MachineState.formatVersion` (old snapshots must still restore).
    associatedtype State: Codable, Equatable, Sendable
    func save() throws -> State
    func restore(_ state: State) throws
}

/// The state of a device that keeps none worth saving (it is not in `MachineState`).
public struct NoState: Codable, Equatable, Sendable {
    public init() {}
}

extension Persistable where State == NoState {
    public func save() -> NoState { NoState() }
    public func restore(_ state: NoState) {}
}

/// The 8250 UART: registers and unread input.
extension Serial8250: Persistable {}
/// The i8042: no keyboard is attached and its reset line is an action.
extension I8042: Persistable {}
/// The ACPI power port: writes are actions, reads are always 0.
extension ACPIPowerPort: Persistable {}
/// A virtio-mmio transport: registers, feature selection, each queue's configuration and position.
extension VirtioMMIOTransport: Persistable {}
/// A virtio block device: its disk's size and mode, checked against the disk attached on restore.
extension VirtioBlockDevice: Persistable {}
/// A virtio network device: its MAC address and status (the tap is the new VM's own).
extension VirtioNetDevice: Persistable {}

/// The VM-wide state KVM keeps: PIT, kvmclock and the interrupt controllers (restored after every vCPU).
extension KVMVirtualMachine: Persistable {
    public func save() throws -> VMState { try captureState() }
    public func restore(_ state: VMState) throws { try restoreState(state) }
}

/// One vCPU with what saving and restoring it needs from its VM: the MSRs to read and the XSAVE size.
public struct PersistedVCPU: Persistable {
    public let vcpu: KVMVCPU
    public let msrIndices: [UInt32]
    public let xsaveSize: Int

    public func save() throws -> VCPUState { try vcpu.captureState(msrIndices: msrIndices, xsaveSize: xsaveSize) }
    public func restore(_ state: VCPUState) throws { try vcpu.restoreState(state, xsaveSize: xsaveSize) }
}

/// A virtio-mmio device where it is attached: its transport and, for a block or network device, that device.
extension VirtioDeviceAttachment: Persistable {
    public func save() -> VirtioDeviceState {
        VirtioDeviceState(mmioBase: mmioBase, transport: transport.save(), block: block?.save(), network: network?.save())
    }

    /// Refused unless the saved device sits where this one is and is of its kind.
    public func restore(_ state: VirtioDeviceState) throws {
        guard state.mmioBase == mmioBase else {
            throw MachineStateError(
                "the snapshot's virtio device at 0x\(String(state.mmioBase, radix: 16)) meets a device at 0x\(String(mmioBase, radix: 16)): attach devices in the snapshot's order"
            )
        }
        guard (state.block == nil) == (block == nil) else {
            throw MachineStateError(
                "the snapshot's virtio device at 0x\(String(state.mmioBase, radix: 16)) is \(state.block == nil ? "not " : "")a block device, the attached one is \(block == nil ? "not" : "")"
            )
        }
        guard (state.network == nil) == (network == nil) else {
            throw MachineStateError(
                "the snapshot's virtio device at 0x\(String(state.mmioBase, radix: 16)) is \(state.network == nil ? "not " : "")a network device, the attached one is \(network == nil ? "not" : "")"
            )
        }
        if let saved = state.block { try block?.restore(saved) }
        if let saved = state.network { try network?.restore(saved) }
        try transport.restore(state.transport)
        // The guest now sits behind another tap (or the same one after a rollback): it announces itself.
        network?.announce()
    }
}
