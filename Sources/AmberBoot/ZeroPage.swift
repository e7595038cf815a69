/// The Linux boot parameters ("zero page", struct boot_params, 4 KiB) at 0x7000.
enum ZeroPage {
    static let size = 4096
    static let acpiRSDPAddress = 0x070
    static let e820EntryCount = 0x1E8
    static let typeOfLoader = 0x210
    static let ramdiskImage = 0x218
    static let ramdiskSize = 0x21C
    static let commandLinePointer = 0x228
    static let e820Table = 0x2D0
    static let e820MaximumEntries = 128
    /// "Undefined" loader: Amber has no assigned boot loader id.
    static let undefinedLoader: UInt8 = 0xFF

    static func bytes(
        kernel: BzImage, e820: [E820Entry], initrd: (address: UInt64, size: UInt64)?,
        rsdpAddress: UInt64
    ) -> [UInt8] {
        precondition(e820.count <= e820MaximumEntries)
        var page = [UInt8](repeating: 0, count: size)
        page.replaceSubrange(
            BzImage.setupHeaderOffset..<(BzImage.setupHeaderOffset + kernel.setupHeader.count),
            with: kernel.setupHeader)
        page[typeOfLoader] = undefinedLoader
        page.storeLittleEndian(UInt32(BootAddresses.commandLine), at: commandLinePointer)
        if let initrd {
            page.storeLittleEndian(UInt32(initrd.address), at: ramdiskImage)
            page.storeLittleEndian(UInt32(initrd.size), at: ramdiskSize)
        }
        page.storeLittleEndian(rsdpAddress, at: acpiRSDPAddress)
        page[e820EntryCount] = UInt8(e820.count)
        for (index, entry) in e820.enumerated() {
            let offset = e820Table + index * 20
            page.storeLittleEndian(entry.address, at: offset)
            page.storeLittleEndian(entry.size, at: offset + 8)
            page.storeLittleEndian(entry.kind.rawValue, at: offset + 16)
        }
        return page
    }
}
