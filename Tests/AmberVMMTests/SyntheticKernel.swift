import Foundation

/// A file shaped like a bzImage whose 64-bit entry point (0x200 into the protected-mode part) is
/// `code`: the VMM boots it exactly as it boots Linux (zero page, page tables, GDT, long mode).
enum SyntheticKernel {
    static func bytes(entryCode code: [UInt8]) -> [UInt8] {
        let setupSectors = 1
        let kernelOffset = (setupSectors + 1) * 512
        var bytes = [UInt8](repeating: 0, count: kernelOffset + 0x200 + max(code.count, 0x1000))
        func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        }
        bytes[0x1F1] = UInt8(setupSectors)
        bytes[0x1FE] = 0x55
        bytes[0x1FF] = 0xAA
        bytes[0x200] = 0xEB
        bytes[0x201] = 0x66
        bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        store(UInt16(0x020F), at: 0x206)
        bytes[0x211] = 0x01                       // loaded high
        store(UInt32(0x7FFF_FFFF), at: 0x22C)     // initrd_addr_max
        store(UInt32(0x20_0000), at: 0x230)       // kernel_alignment
        store(UInt16(0x01), at: 0x236)            // XLF_KERNEL_64
        store(UInt32(2047), at: 0x238)            // cmdline_size
        store(UInt32(0x10_0000), at: 0x260)       // init_size
        bytes.replaceSubrange((kernelOffset + 0x200)..<(kernelOffset + 0x200 + code.count), with: code)
        return bytes
    }

    static func write(entryCode code: [UInt8], to path: String) throws {
        try Data(bytes(entryCode: code)).write(to: URL(fileURLWithPath: path))
    }
}

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
