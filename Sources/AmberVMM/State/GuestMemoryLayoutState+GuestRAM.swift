import AmberMachineState

extension GuestMemoryLayoutState {
    /// The layout a snapshot records for guest RAM mapped as `regions`.
    public init(_ regions: [GuestRAM.Region]) {
        self.init(regions: regions.map { Region(guestAddress: $0.guestAddress, size: $0.size, fileOffset: $0.fileOffset) })
    }

    /// The guest RAM regions a restored machine maps.
    public var guestRAMRegions: [GuestRAM.Region] {
        regions.map { GuestRAM.Region(guestAddress: $0.guestAddress, size: $0.size, fileOffset: $0.fileOffset) }
    }
}
