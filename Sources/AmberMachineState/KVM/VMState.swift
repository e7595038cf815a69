import CKVM
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The VM-wide state KVM keeps: the PIT, kvmclock and the three in-kernel interrupt controllers
/// (PIC master, PIC slave, IOAPIC), each as the kernel struct's bytes.
public struct VMState: Codable, Equatable, Sendable {
    /// `kvm_pit_state2`
    public var pit: Data
    /// `kvm_clock_data` as captured (its flags say whether the host offered a realtime reference).
    public var clock: Data
    /// `kvm_irqchip` for each of `IRQChip.allCases`, in that order.
    public var irqChips: [Data]

    public init(pit: Data, clock: Data, irqChips: [Data]) {
        self.pit = pit
        self.clock = clock
        self.irqChips = irqChips
    }

    public func validate() throws {
        try VMStateBytes.check(pit, is: MemoryLayout<kvm_pit_state2>.size, field: "PIT")
        try VMStateBytes.check(clock, is: MemoryLayout<kvm_clock_data>.size, field: "kvmclock")
        let chips = IRQChip.allCases
        guard irqChips.count == chips.count else {
            throw VMStateError("saved state has \(irqChips.count) interrupt controllers, expected \(chips.count): the state is corrupt")
        }
        for (chip, bytes) in zip(chips, irqChips) {
            let state = try VMStateBytes.load(kvm_irqchip.self, from: bytes, field: "interrupt controller \(chip)")
            guard state.chip_id == chip.rawValue else {
                throw VMStateError("saved interrupt controller \(chip) says it is chip \(state.chip_id): the state is corrupt")
            }
        }
    }

    /// The guest's kvmclock reading at capture, in nanoseconds.
    public var kvmclockNanoseconds: UInt64 {
        (try? VMStateBytes.load(kvm_clock_data.self, from: clock, field: "kvmclock").clock) ?? 0
    }
}
