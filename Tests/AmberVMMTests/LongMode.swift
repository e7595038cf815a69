/// 64-bit machine code for the synthetic kernels.
enum LongMode {
    /// mov dx, port (operand-size prefix)
    static func setDX(_ port: UInt16) -> [UInt8] { [0x66, 0xBA, UInt8(port & 0xFF), UInt8(port >> 8)] }
    static func print(_ text: String) -> [UInt8] { setDX(0x3F8) + text.utf8.flatMap { [0xB0, $0, 0xEE] } }
    /// Writes S5|SLP_EN to the ACPI sleep control port: the guest powers off.
    static let powerOff: [UInt8] = setDX(0x600) + [0xB0, 0x34, 0xEE]
    /// Writes the ACPI reset value: the guest reboots.
    static let reset: [UInt8] = setDX(0x600) + [0xB0, 0x01, 0xEE]
    static let haltForever: [UInt8] = [0xFA, 0xF4, 0xEB, 0xFD]
    /// inc qword [0x3000]; jmp back.
    static let countForever: [UInt8] = [0x48, 0xFF, 0x04, 0x25, 0x00, 0x30, 0x00, 0x00, 0xEB, 0xF6]
    /// Echoes every byte received on the serial port back to it.
    static let echoSerial: [UInt8] = setDX(0x3FD) + [0xEC, 0xA8, 0x01, 0x74, 0xF7] + setDX(0x3F8) + [0xEC, 0xEE, 0xEB, 0xEF]
}
