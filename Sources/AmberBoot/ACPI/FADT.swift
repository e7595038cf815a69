/// A hardware-reduced FADT, revision 6 (276 bytes): no PM1/GPE blocks, no SCI, no FACS; sleep and
/// reset go through the single I/O port of `ACPIPowerRegisters`.
enum FADT {
    static let revision: UInt8 = 6
    static let minorVersion: UInt8 = 5
    static let size = 276

    static let powerButtonIsControlMethod: UInt32 = 1 << 4
    static let sleepButtonIsControlMethod: UInt32 = 1 << 5
    static let resetRegisterSupported: UInt32 = 1 << 10
    static let hardwareReducedACPI: UInt32 = 1 << 20

    /// IA-PC boot architecture flags: no VGA, no MSI, no CMOS RTC (the VMM emulates neither); the 8042
    /// flag stays clear so Linux does not probe a keyboard controller we only implement for reset.
    static let vgaNotPresent: UInt16 = 1 << 2
    static let msiNotSupported: UInt16 = 1 << 3
    static let cmosRTCNotPresent: UInt16 = 1 << 5

    static let hypervisorVendor = "AMBERVMM"

    static func table(dsdtAddress: UInt64) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: size - ACPITable.headerSize)
        func store<T: FixedWidthInteger>(_ value: T, at tableOffset: Int) {
            body.storeLittleEndian(value, at: tableOffset - ACPITable.headerSize)
        }
        func store(_ bytes: [UInt8], at tableOffset: Int) {
            body.replaceSubrange(
                (tableOffset - ACPITable.headerSize)..<(tableOffset - ACPITable.headerSize + bytes.count),
                with: bytes)
        }
        store(UInt32(truncatingIfNeeded: dsdtAddress), at: 40)
        store(vgaNotPresent | msiNotSupported | cmosRTCNotPresent, at: 109)
        store(
            hardwareReducedACPI | powerButtonIsControlMethod | sleepButtonIsControlMethod | resetRegisterSupported,
            at: 112)
        store(GenericAddress.ioPort(ACPIPowerRegisters.port), at: 116)
        store(ACPIPowerRegisters.resetValue, at: 128)
        store(minorVersion, at: 131)
        store(dsdtAddress, at: 140)
        store(GenericAddress.ioPort(ACPIPowerRegisters.port), at: 244)
        store(GenericAddress.ioPort(ACPIPowerRegisters.port), at: 256)
        store(Array(hypervisorVendor.utf8), at: 268)
        return ACPITable.make(signature: "FACP", revision: revision, body: body)
    }
}
