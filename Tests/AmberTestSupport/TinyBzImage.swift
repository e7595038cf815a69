import Foundation

/// A file shaped like a bzImage (boot protocol 2.15, 64-bit entry) whose 64-bit entry point, 0x200 into the
/// protected-mode part, is `code`: amber-vmm boots it exactly as it boots Linux (zero page, page tables, GDT,
/// long mode), in milliseconds and without a kernel on the machine.
public enum TinyBzImage {
    public static func bytes(entryCode code: [UInt8]) -> [UInt8] {
        let setupSectors = 1
        let kernelOffset = (setupSectors + 1) * 512
        var bytes = [UInt8](repeating: 0, count: kernelOffset + 0x200 + max(code.count, 0x1000))
        func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        }
        bytes[0x1F1] = UInt8(setupSectors)
        store(UInt16(0xAA55), at: 0x1FE)  // boot_flag
        bytes[0x200] = 0xEB  // jump over the header...
        bytes[0x201] = 0x66  // ...which ends at 0x268
        bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        store(UInt16(0x020F), at: 0x206)  // boot protocol 2.15
        bytes[0x211] = 0x01  // loadflags: LOADED_HIGH
        store(UInt32(0x7FFF_FFFF), at: 0x22C)  // initrd_addr_max
        store(UInt32(0x20_0000), at: 0x230)  // kernel_alignment
        store(UInt16(0x01), at: 0x236)  // xloadflags: XLF_KERNEL_64
        store(UInt32(2047), at: 0x238)  // cmdline_size
        store(UInt32(0x10_0000), at: 0x260)  // init_size: 1 MiB
        bytes.replaceSubrange((kernelOffset + 0x200)..<(kernelOffset + 0x200 + code.count), with: code)
        return bytes
    }

    public static func write(entryCode code: [UInt8], to path: String) throws {
        try Data(bytes(entryCode: code)).write(to: URL(fileURLWithPath: path))
    }

    /// A file with the bzImage boot-header magic and nothing else: it passes `amber run`'s check, and
    /// amber-vmm refuses it as truncated.
    public static let headerOnly: [UInt8] = {
        var bytes = [UInt8](repeating: 0, count: 0x210)
        bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        return bytes
    }()
}
