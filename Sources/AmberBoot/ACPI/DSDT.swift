/// The DSDT: the S5 sleep type the FADT's sleep control register expects, the COM1 serial port, and one
/// device per virtio-mmio window (Linux's virtio_mmio driver binds to _HID "LNRO0005").
enum DSDT {
    static let revision: UInt8 = 2
    static let virtioMMIOHardwareID = "LNRO0005"

    static func table(virtioDevices: [VirtioMMIODeviceSlot]) -> [UInt8] {
        let s5 = AML.name(
            "_S5_",
            AML.package([
                AML.integer(UInt64(ACPIPowerRegisters.s5SleepType)), AML.integer(UInt64(ACPIPowerRegisters.s5SleepType)),
                AML.integer(0), AML.integer(0),
            ]))
        let devices = virtioDevices.enumerated().map { index, slot in virtioDevice(index: index, slot: slot) }
        let body = s5 + AML.scope("\\_SB_", [serialPort()] + devices)
        return ACPITable.make(signature: "DSDT", revision: revision, body: body)
    }

    /// Device(COM1) { Name(_HID, EisaId("PNP0501")); Name(_UID, 0); Name(_CRS, ResourceTemplate() {
    /// IO(Decode16, 0x3F8, 0x3F8, 1, 8); Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { 4 } }) }
    /// Hardware-reduced ACPI leaves Linux without legacy ISA interrupts, so the 8250 port gets its IRQ
    /// only through this declaration; without it the kernel's own messages reach the console (polled)
    /// but nothing userspace writes to /dev/ttyS0 does.
    static func serialPort() -> [UInt8] {
        AML.device(
            "COM1",
            [
                AML.name("_HID", AML.integer(UInt64(pnp0501EisaID))),
                AML.name("_UID", AML.integer(0)),
                AML.name(
                    "_CRS",
                    ResourceDescriptor.template([
                        ResourceDescriptor.ioPort(base: serialPortBase, length: 8),
                        ResourceDescriptor.edgeInterrupt(gsi: serialPortGSI),
                    ])),
            ])
    }

    public static let serialPortBase: UInt16 = 0x3F8
    public static let serialPortGSI: UInt32 = 4
    /// EisaId("PNP0501"): three 5-bit letters ('P'=16, 'N'=14, 'P'=16) then the product number 0x0501,
    /// stored big-endian in a little-endian DWord.
    static let pnp0501EisaID: UInt32 = 0x0105_D041

    /// Device(Vnnn) { Name(_HID, "LNRO0005"); Name(_UID, n); Name(_CRS, ResourceTemplate() {
    /// Memory32Fixed(ReadWrite, base, 0x1000); Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } }) }
    static func virtioDevice(index: Int, slot: VirtioMMIODeviceSlot) -> [UInt8] {
        precondition(index < 1000, "at most 1000 virtio-mmio devices have a DSDT name")
        let digits = String(index)
        let name = "V" + String(repeating: "0", count: 3 - digits.count) + digits
        return AML.device(
            name,
            [
                AML.name("_HID", AML.string(virtioMMIOHardwareID)),
                AML.name("_UID", AML.integer(UInt64(index))),
                AML.name(
                    "_CRS",
                    ResourceDescriptor.template([
                        ResourceDescriptor.memory32Fixed(
                            base: UInt32(slot.baseAddress),
                            length: UInt32(GuestMemoryLayout.virtioMMIOWindowSize)),
                        ResourceDescriptor.edgeInterrupt(gsi: slot.gsi),
                    ])),
            ])
    }
}
