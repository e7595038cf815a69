/// All ACPI tables, laid out from the RSDP at 0xE0000 upwards (in the e820-reserved legacy area):
/// RSDP -> XSDT -> FADT (-> DSDT) and MADT.
public struct ACPITables: Sendable {
    /// Each table and the guest-physical address it belongs at.
    public let tables: [(address: UInt64, bytes: [UInt8])]
    public let rsdpAddress: UInt64 = BootAddresses.rsdp

    /// Inputs of the one IOAPIC (KVM's in-kernel IOAPIC has 24).
    public static let ioAPICInputs: UInt32 = 24

    public init(vcpuCount: Int, virtioDevices: [VirtioMMIODeviceSlot]) throws {
        for slot in virtioDevices {
            guard slot.gsi < Self.ioAPICInputs else {
                throw BootError(
                    "virtio device at 0x\(String(slot.baseAddress, radix: 16)) has GSI \(slot.gsi), beyond the IOAPIC's \(Self.ioAPICInputs) inputs: use fewer devices"
                )
            }
            guard slot.baseAddress + GuestMemoryLayout.virtioMMIOWindowSize <= GuestMemoryLayout.gapEnd else {
                throw BootError(
                    "virtio device window at 0x\(String(slot.baseAddress, radix: 16)) is not below 4 GiB: place it in the MMIO gap")
            }
        }
        var next = BootAddresses.rsdp
        func place(_ size: Int) -> UInt64 {
            let address = next
            next = (next + UInt64(size) + 15) & ~15
            return address
        }
        let rsdpAddress = place(RSDP.size)
        let xsdtAddress = place(ACPITable.headerSize + 2 * 8)
        let dsdt = DSDT.table(virtioDevices: virtioDevices)
        let dsdtAddress = place(dsdt.count)
        let fadt = FADT.table(dsdtAddress: dsdtAddress)
        let fadtAddress = place(fadt.count)
        let madt = MADT.table(vcpuCount: vcpuCount)
        let madtAddress = place(madt.count)
        guard next <= BootAddresses.acpiEnd else {
            throw BootError(
                "ACPI tables for \(vcpuCount) vCPUs and \(virtioDevices.count) virtio devices do not fit below 1 MiB: use fewer devices")
        }
        var xsdtBody: [UInt8] = []
        xsdtBody.appendLittleEndian(fadtAddress)
        xsdtBody.appendLittleEndian(madtAddress)
        let xsdt = ACPITable.make(signature: "XSDT", revision: 1, body: xsdtBody)
        tables = [
            (rsdpAddress, RSDP.structure(xsdtAddress: xsdtAddress)),
            (xsdtAddress, xsdt),
            (dsdtAddress, dsdt),
            (fadtAddress, fadt),
            (madtAddress, madt),
        ]
    }

    /// The table with `signature` ("RSD PTR " for the RSDP).
    public func table(_ signature: String) -> (address: UInt64, bytes: [UInt8])? {
        tables.first { $0.bytes.starts(with: signature.utf8) }
    }
}

/// The Root System Description Pointer, ACPI 2.0+ form (36 bytes), pointing at the XSDT only.
enum RSDP {
    static let size = 36

    static func structure(xsdtAddress: UInt64) -> [UInt8] {
        var bytes: [UInt8] = Array("RSD PTR ".utf8)
        bytes.append(0)
        bytes.appendASCII(ACPITable.oemID, paddedTo: 6)
        bytes.append(2)
        bytes.appendLittleEndian(UInt32(0))
        bytes.appendLittleEndian(UInt32(size))
        bytes.appendLittleEndian(xsdtAddress)
        bytes += [0, 0, 0, 0]
        bytes[8] = checksumByte(bytes[0..<20])
        bytes[32] = checksumByte(bytes)
        return bytes
    }
}
