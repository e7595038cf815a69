/// Where guest RAM lives in the guest-physical address space. RAM fills [0, 3 GiB); the 32-bit gap
/// [3 GiB, 4 GiB) holds MMIO (virtio-mmio windows, IOAPIC, LAPIC, KVM's TSS and identity map); RAM
/// beyond 3 GiB continues at 4 GiB. The VMM creates one KVM memory slot per `ramRegions` entry, each
/// backed by the memory file at `fileOffset`, so the file stays one contiguous image of all RAM.
public struct GuestMemoryLayout: Equatable, Sendable {
    public static let gapStart: UInt64 = 3 << 30
    public static let gapEnd: UInt64 = 4 << 30
    /// The first virtio-mmio window; windows are 4 KiB apart inside the gap.
    public static let virtioMMIOBase: UInt64 = 0xD000_0000
    public static let virtioMMIOWindowSize: UInt64 = 0x1000
    /// The first GSI handed to virtio-mmio devices; 0-4 are taken by the timer, keyboard and serial.
    public static let virtioFirstGSI: UInt32 = 5

    public struct RAMRegion: Equatable, Sendable {
        public let guestAddress: UInt64
        public let size: UInt64
        /// Offset of this region in the guest memory file (memfd).
        public let fileOffset: UInt64

        public var end: UInt64 { guestAddress + size }
    }

    public let memorySize: UInt64
    public let ramRegions: [RAMRegion]

    public init(memorySize: UInt64) {
        self.memorySize = memorySize
        let low = min(memorySize, Self.gapStart)
        var regions = [RAMRegion(guestAddress: 0, size: low, fileOffset: 0)]
        if memorySize > low {
            regions.append(RAMRegion(guestAddress: Self.gapEnd, size: memorySize - low, fileOffset: low))
        }
        ramRegions = regions
    }

    /// End of RAM below the gap: everything the boot loader writes lies below it.
    public var lowMemoryEnd: UInt64 { ramRegions[0].end }

    /// One past the highest RAM address.
    public var ramEnd: UInt64 { ramRegions[ramRegions.count - 1].end }

    /// The memory-file offset of `count` bytes at guest address `gpa`, or nil when they are not all RAM
    /// of one region (guest-provided addresses are untrusted).
    public func fileOffset(ofGuestAddress gpa: UInt64, count: UInt64) -> UInt64? {
        for region in ramRegions where gpa >= region.guestAddress && gpa < region.end {
            guard count <= region.end - gpa else { return nil }
            return region.fileOffset + (gpa - region.guestAddress)
        }
        return nil
    }

    /// The virtio-mmio window and GSI of the `index`th device, in the gap below the IOAPIC.
    public static func virtioMMIODevice(index: Int) -> VirtioMMIODeviceSlot {
        VirtioMMIODeviceSlot(
            baseAddress: virtioMMIOBase + UInt64(index) * virtioMMIOWindowSize,
            gsi: virtioFirstGSI + UInt32(index))
    }
}

/// A virtio-mmio device as the guest discovers it through the DSDT: a 4 KiB register window and the
/// GSI (IOAPIC pin) its interrupts arrive on.
public struct VirtioMMIODeviceSlot: Equatable, Sendable {
    public let baseAddress: UInt64
    public let gsi: UInt32

    public init(baseAddress: UInt64, gsi: UInt32) {
        self.baseAddress = baseAddress
        self.gsi = gsi
    }
}
