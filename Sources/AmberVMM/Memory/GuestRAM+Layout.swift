import AmberBoot

extension GuestRAM.Region {
    /// The RAM regions every VM of `memoryBytes` has (the layout its kernel is booted with, and so the one
    /// its snapshots are restored into).
    static func layout(memoryBytes: UInt64) -> [GuestRAM.Region] {
        GuestMemoryLayout(memorySize: memoryBytes).ramRegions.map {
            GuestRAM.Region(guestAddress: $0.guestAddress, size: $0.size, fileOffset: $0.fileOffset)
        }
    }
}
