/// Fixed guest-physical addresses of everything the loader writes below 1 MiB (and the kernel at 1 MiB).
public enum BootAddresses {
    public static let gdt: UInt64 = 0x500
    public static let idt: UInt64 = 0x520
    public static let zeroPage: UInt64 = 0x7000
    /// Initial stack top: between the zero page and the page tables; the kernel switches stacks early.
    public static let stackTop: UInt64 = 0x8FF0
    public static let pml4: UInt64 = 0x9000
    public static let pdpt: UInt64 = 0xA000
    /// Page directories follow one another from here up to the command line.
    public static let firstPageDirectory: UInt64 = 0xB000
    public static let commandLine: UInt64 = 0x20000
    /// Start of the extended BIOS data area: the end of conventional RAM in the e820 map.
    public static let ebdaStart: UInt64 = 0x9FC00
    /// RSDP in the BIOS area where Linux also scans for it; the other tables follow it.
    public static let rsdp: UInt64 = 0xE0000
    public static let acpiEnd: UInt64 = 0x100000
    public static let highMemoryStart: UInt64 = 0x100000
    public static let kernel: UInt64 = 0x100000
    /// The 64-bit entry point: 0x200 past the protected-mode kernel's start.
    public static let kernelEntry: UInt64 = kernel + 0x200
}
