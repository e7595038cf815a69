/// A segment register as KVM's `kvm_segment` wants it, decoded from a GDT descriptor.
public struct SegmentRegister: Equatable, Sendable {
    public var base: UInt64
    public var limit: UInt32
    public var selector: UInt16
    public var type: UInt8
    public var present: Bool
    public var dpl: UInt8
    /// Default operation size (D/B bit).
    public var db: Bool
    /// Code/data (true) or system (false) segment: the descriptor's S bit.
    public var s: Bool
    /// 64-bit code segment.
    public var l: Bool
    public var granularity: Bool
    public var avl: Bool

    /// Decodes a 64-bit GDT descriptor (selector = index * 8).
    public init(descriptor: UInt64, selector: UInt16) {
        let rawLimit = UInt32(descriptor & 0xFFFF) | UInt32((descriptor >> 48) & 0xF) << 16
        granularity = (descriptor >> 55) & 1 == 1
        limit = granularity ? (rawLimit << 12) | 0xFFF : rawLimit
        base = (descriptor >> 16) & 0xFF_FFFF | ((descriptor >> 56) & 0xFF) << 24
        self.selector = selector
        type = UInt8((descriptor >> 40) & 0xF)
        s = (descriptor >> 44) & 1 == 1
        dpl = UInt8((descriptor >> 45) & 3)
        present = (descriptor >> 47) & 1 == 1
        avl = (descriptor >> 52) & 1 == 1
        l = (descriptor >> 53) & 1 == 1
        db = (descriptor >> 54) & 1 == 1
    }
}

/// A descriptor table register (GDTR/IDTR).
public struct DescriptorTableRegister: Equatable, Sendable {
    public var base: UInt64
    public var limit: UInt16
}

/// The boot GDT at 0x500: null, 64-bit code (0x08), data (0x10), TSS (0x18).
public enum BootGDT {
    public static let entries: [UInt64] = [
        0,
        0x00AF_9B00_0000_FFFF,
        0x00CF_9300_0000_FFFF,
        0x008F_8B00_0000_FFFF,
    ]
    public static let codeSelector: UInt16 = 0x08
    public static let dataSelector: UInt16 = 0x10
    public static let tssSelector: UInt16 = 0x18

    static func bytes() -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in entries { bytes.appendLittleEndian(entry) }
        return bytes
    }
}

/// Register values for the boot vCPU at the 64-bit entry point, in long mode with paging on. The VMM
/// copies them into `kvm_regs`/`kvm_sregs`; the other vCPUs start halted and Linux wakes them by INIT/SIPI.
public struct InitialCPUState: Equatable, Sendable {
    public var rip: UInt64 = BootAddresses.kernelEntry
    /// The zero page, as the boot protocol requires.
    public var rsi: UInt64 = BootAddresses.zeroPage
    public var rsp: UInt64 = BootAddresses.stackTop
    public var rbp: UInt64 = BootAddresses.stackTop
    /// Only the reserved bit 1 set: interrupts off.
    public var rflags: UInt64 = 0x2
    public var cs = SegmentRegister(descriptor: BootGDT.entries[1], selector: BootGDT.codeSelector)
    public var ds = SegmentRegister(descriptor: BootGDT.entries[2], selector: BootGDT.dataSelector)
    public var es = SegmentRegister(descriptor: BootGDT.entries[2], selector: BootGDT.dataSelector)
    public var fs = SegmentRegister(descriptor: BootGDT.entries[2], selector: BootGDT.dataSelector)
    public var gs = SegmentRegister(descriptor: BootGDT.entries[2], selector: BootGDT.dataSelector)
    public var ss = SegmentRegister(descriptor: BootGDT.entries[2], selector: BootGDT.dataSelector)
    public var tr = SegmentRegister(descriptor: BootGDT.entries[3], selector: BootGDT.tssSelector)
    public var gdt = DescriptorTableRegister(base: BootAddresses.gdt, limit: UInt16(BootGDT.entries.count * 8 - 1))
    /// An empty IDT: the kernel installs its own before enabling interrupts.
    public var idt = DescriptorTableRegister(base: BootAddresses.idt, limit: 7)
    /// PE | ET | PG.
    public var cr0: UInt64 = 0x8000_0011
    public var cr3: UInt64 = BootAddresses.pml4
    /// PAE.
    public var cr4: UInt64 = 0x20
    /// LME | LMA.
    public var efer: UInt64 = 0x500

    public init() {}
}
