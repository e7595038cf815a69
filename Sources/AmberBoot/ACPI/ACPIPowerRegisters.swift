/// The one I/O port the FADT declares as the sleep control, sleep status and reset register. The VMM
/// must handle byte writes to `port`:
/// - `sleepControlS5` (SLP_TYP = 5 in bits 2-4, SLP_EN = bit 5): the guest powers off;
/// - `resetValue`: the guest reboots;
/// and answer reads with 0 (sleep status: wake not yet signalled).
public enum ACPIPowerRegisters {
    public static let port: UInt16 = 0x600
    public static let resetValue: UInt8 = 0x01
    /// Matches the first element of the DSDT's `_S5_` package.
    public static let s5SleepType: UInt8 = 5
    static let sleepTypeShift: UInt8 = 2
    static let sleepTypeMask: UInt8 = 0b111 << 2
    static let sleepEnable: UInt8 = 1 << 5
    public static let sleepControlS5: UInt8 = s5SleepType << 2 | sleepEnable

    public enum Action: Equatable, Sendable {
        case powerOff
        case reboot
    }

    /// What a guest write of `value` to `port` asks for; nil for anything else (ignore it).
    public static func action(forWrite value: UInt8) -> Action? {
        if value == resetValue { return .reboot }
        if value & sleepEnable != 0, (value & sleepTypeMask) >> sleepTypeShift == s5SleepType { return .powerOff }
        return nil
    }
}
