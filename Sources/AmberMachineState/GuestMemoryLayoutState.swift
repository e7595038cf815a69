/// Where guest RAM sits: guest-physical regions over one memory file, back to back from offset 0.
/// The snapshot's memory bytes are that file's contents.
public struct GuestMemoryLayoutState: Codable, Equatable, Sendable {
    public struct Region: Codable, Equatable, Sendable {
        public var guestAddress: UInt64
        public var size: UInt64
        public var fileOffset: UInt64

        public init(guestAddress: UInt64, size: UInt64, fileOffset: UInt64) {
            self.guestAddress = guestAddress
            self.size = size
            self.fileOffset = fileOffset
        }
    }

    public var regions: [Region]

    public static let maximumRegions = 64
    /// 1 TiB: far above any VM this VMM runs, far below what would overflow the arithmetic.
    public static let maximumTotalBytes: UInt64 = 1 << 40

    public init(regions: [Region]) {
        self.regions = regions
    }

    public var totalBytes: UInt64 { regions.reduce(0) { $0 &+ $1.size } }

    public func validate() throws {
        guard (1...Self.maximumRegions).contains(regions.count) else {
            throw MachineStateError(
                "machine state has \(regions.count) memory regions, outside 1...\(Self.maximumRegions): the state is corrupt")
        }
        var nextOffset: UInt64 = 0
        for region in regions {
            // Sizes and addresses are any 64-bit numbers in a damaged state: sums report overflow.
            let (end, endOverflow) = region.guestAddress.addingReportingOverflow(region.size)
            let (fileEnd, fileEndOverflow) = nextOffset.addingReportingOverflow(region.size)
            guard region.size > 0, region.size % 4096 == 0, region.guestAddress % 4096 == 0, !endOverflow, !fileEndOverflow,
                region.fileOffset == nextOffset, fileEnd <= Self.maximumTotalBytes, end <= Self.maximumTotalBytes * 2
            else {
                throw MachineStateError(
                    "machine state has an impossible memory region (guest 0x\(String(region.guestAddress, radix: 16)), \(region.size) bytes, file offset \(region.fileOffset)): the state is corrupt"
                )
            }
            nextOffset = fileEnd
        }
    }
}
