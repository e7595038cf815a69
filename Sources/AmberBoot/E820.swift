/// One entry of the BIOS memory map handed to Linux in the zero page (20 bytes each).
public struct E820Entry: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: UInt32, Sendable {
        case ram = 1
        case reserved = 2
    }

    public let address: UInt64
    public let size: UInt64
    public let kind: Kind

    public init(address: UInt64, size: UInt64, kind: Kind) {
        self.address = address
        self.size = size
        self.kind = kind
    }

    public var end: UInt64 { address + size }

    public var description: String {
        "[0x\(String(address, radix: 16)), 0x\(String(end, radix: 16))) \(kind)"
    }

    /// The map for `layout`: conventional memory below the EBDA, the legacy area (where the ACPI tables
    /// live) reserved, RAM from 1 MiB to the gap, and RAM above 4 GiB when there is any.
    public static func map(for layout: GuestMemoryLayout) -> [E820Entry] {
        var entries = [
            E820Entry(address: 0, size: BootAddresses.ebdaStart, kind: .ram),
            E820Entry(
                address: BootAddresses.ebdaStart, size: BootAddresses.highMemoryStart - BootAddresses.ebdaStart,
                kind: .reserved),
            E820Entry(
                address: BootAddresses.highMemoryStart,
                size: layout.lowMemoryEnd - BootAddresses.highMemoryStart, kind: .ram),
        ]
        for region in layout.ramRegions.dropFirst() {
            entries.append(E820Entry(address: region.guestAddress, size: region.size, kind: .ram))
        }
        return entries
    }
}
