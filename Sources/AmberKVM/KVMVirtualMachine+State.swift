import AmberMachineState
import CKVM

extension KVMVirtualMachine {
    /// Reads the PIT, kvmclock and interrupt controllers. Capture the vCPUs first (docs/KVM.md).
    public func captureState() throws -> VMState {
        VMState(
            pit: VMStateBytes.of(try pit()), clock: VMStateBytes.of(try clock()),
            irqChips: try IRQChip.allCases.map { VMStateBytes.of(try irqChip($0)) })
    }

    /// Puts the PIT, kvmclock and interrupt controllers back; call after every vCPU is restored.
    ///
    /// The clock is set with flags 0: kvmclock continues from the captured reading, so the guest's
    /// monotonic clock does not jump over the time the snapshot sat on disk, and its wall clock lags
    /// by that time until the guest resynchronises it (NTP). KVM_CLOCK_REALTIME would advance it by
    /// the host's elapsed time instead, but only where the capture carried a realtime reference
    /// (PVM here reports flags 0).
    public func restoreState(_ state: VMState) throws {
        try state.validate()
        try setPIT(try VMStateBytes.load(kvm_pit_state2.self, from: state.pit, field: "PIT"))
        var clock = try VMStateBytes.load(kvm_clock_data.self, from: state.clock, field: "kvmclock")
        clock.flags = 0
        try setClock(clock)
        for (chip, bytes) in zip(IRQChip.allCases, state.irqChips) {
            try setIRQChip(try VMStateBytes.load(kvm_irqchip.self, from: bytes, field: "interrupt controller \(chip)"))
        }
    }
}
