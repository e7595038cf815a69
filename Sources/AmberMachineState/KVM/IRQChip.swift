/// The three in-kernel interrupt controllers KVM_GET_IRQCHIP knows (the raw value is the chip id), in
/// the order a saved `VMState` lists them.
public enum IRQChip: UInt32, CaseIterable, Sendable {
    case picMaster = 0
    case picSlave = 1
    case ioapic = 2
}
