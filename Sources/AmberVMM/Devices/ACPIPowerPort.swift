import AmberBoot

/// The I/O port the FADT declares as sleep control, sleep status and reset register
/// (`ACPIPowerRegisters`): S5 powers the guest off, the reset value reboots it. Reads return 0
/// (sleep status: no wake event).
public final class ACPIPowerPort: BusDevice, Sendable {
    public static let port = UInt64(ACPIPowerRegisters.port)

    private let act: @Sendable (ACPIPowerRegisters.Action) -> Void

    public init(_ act: @escaping @Sendable (ACPIPowerRegisters.Action) -> Void) {
        self.act = act
    }

    public func read(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        data.initializeMemory(as: UInt8.self, repeating: 0)
    }

    public func write(offset: UInt64, from data: UnsafeRawBufferPointer) {
        guard let value = data.first, let action = ACPIPowerRegisters.action(forWrite: value) else { return }
        act(action)
    }
}
