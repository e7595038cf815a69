/// The DSDT: the S5 sleep type the FADT's sleep control register expects, and one device per
/// virtio-mmio window (Linux's virtio_mmio driver binds to _HID "LNRO0005").
enum DSDT {
    static let revision: UInt8 = 2
    static let virtioMMIOHardwareID = "LNRO0005"

    static func table(virtioDevices: [VirtioMMIODeviceSlot]) -> [UInt8] {
        let s5 = AML.name("_S5_", AML.package([
            AML.integer(UInt64(ACPIPowerRegisters.s5SleepType)), AML.integer(UInt64(ACPIPowerRegisters.s5SleepType)),
            AML.integer(0), AML.integer(0),
        ]))
        let devices = virtioDevices.enumerated().map { index, slot in virtioDevice(index: index, slot: slot) }
        let body = s5 + (devices.isEmpty ? [] : AML.scope("\\_SB_", devices))
        return ACPITable.make(signature: "DSDT", revision: revision, body: body)
    }

    /// Device(Vnnn) { Name(_HID, "LNRO0005"); Name(_UID, n); Name(_CRS, ResourceTemplate() {
    /// Memory32Fixed(ReadWrite, base, 0x1000); Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } }) }
    static func virtioDevice(index: Int, slot: VirtioMMIODeviceSlot) -> [UInt8] {
        precondition(index < 1000, "at most 1000 virtio-mmio devices have a DSDT name")
        let digits = String(index)
        let name = "V" + String(repeating: "0", count: 3 - digits.count) + digits
        return AML.device(name, [
            AML.name("_HID", AML.string(virtioMMIOHardwareID)),
            AML.name("_UID", AML.integer(UInt64(index))),
            AML.name("_CRS", ResourceDescriptor.template([
                ResourceDescriptor.memory32Fixed(base: UInt32(slot.baseAddress),
                                                 length: UInt32(GuestMemoryLayout.virtioMMIOWindowSize)),
                ResourceDescriptor.edgeInterrupt(gsi: slot.gsi),
            ])),
        ])
    }
}
