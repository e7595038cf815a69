/// Identity-mapping page tables for the 64-bit entry: PML4 -> one PDPT -> page directories of 2 MiB
/// pages. They cover all RAM (at least the low 4 GiB) as far as the page directories fit below the
/// command line (21 GiB); the kernel only needs itself, the zero page and the command line mapped and
/// builds its own tables right away.
public struct IdentityPageTables: Equatable, Sendable {
    public static let maximumPageDirectories = Int((BootAddresses.commandLine - BootAddresses.firstPageDirectory) / 0x1000)
    static let present: UInt64 = 1 << 0
    static let writable: UInt64 = 1 << 1
    static let largePage: UInt64 = 1 << 7

    public let pageDirectoryCount: Int

    public init(coveringUpTo end: UInt64) {
        let gibibytes = Int((end + (1 << 30) - 1) >> 30)
        pageDirectoryCount = min(max(gibibytes, 4), Self.maximumPageDirectories)
    }

    /// One past the last identity-mapped address.
    public var mappedEnd: UInt64 { UInt64(pageDirectoryCount) << 30 }

    /// The tables as one block of bytes to place at `BootAddresses.pml4` (PML4, PDPT, page directories).
    public func bytes() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (2 + pageDirectoryCount) * 0x1000)
        bytes.storeLittleEndian(BootAddresses.pdpt | Self.present | Self.writable, at: 0)
        for directory in 0..<pageDirectoryCount {
            let directoryAddress = BootAddresses.firstPageDirectory + UInt64(directory) * 0x1000
            bytes.storeLittleEndian(directoryAddress | Self.present | Self.writable, at: 0x1000 + directory * 8)
            let directoryOffset = Int(directoryAddress - BootAddresses.pml4)
            for entry in 0..<512 {
                let page = (UInt64(directory) << 30) + (UInt64(entry) << 21)
                bytes.storeLittleEndian(
                    page | Self.present | Self.writable | Self.largePage,
                    at: directoryOffset + entry * 8)
            }
        }
        return bytes
    }
}
