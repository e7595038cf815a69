/// The part of the PC keyboard controller (ports 0x60 and 0x64) a guest needs: the reset line.
/// Writing command 0xFE to 0x64 pulses the CPU reset, which is how Linux's `reboot=k` reboots.
/// No keyboard is attached: status reads report empty buffers, data reads return 0.
public final class I8042: BusDevice, Sendable {
    public static let dataPort: UInt64 = 0x60
    public static let commandPort: UInt64 = 0x64
    static let resetCommand: UInt8 = 0xFE

    private let reset: @Sendable () -> Void

    public init(reset: @escaping @Sendable () -> Void) {
        self.reset = reset
    }

    public func read(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        data.initializeMemory(as: UInt8.self, repeating: 0)
    }

    public func write(offset: UInt64, from data: UnsafeRawBufferPointer) {
        if offset == Self.commandPort - Self.dataPort, data.first == Self.resetCommand {
            reset()
        }
    }
}
