/// The MADT ("APIC"): the local APIC address, one IOAPIC, and one enabled local APIC per vCPU
/// (processor UID = APIC id = vCPU index). Linux needs it for more than one vCPU (no MP table).
enum MADT {
    static let revision: UInt8 = 5
    static let localAPICAddress: UInt32 = 0xFEE0_0000
    static let ioAPICAddress: UInt32 = 0xFEC0_0000
    static let ioAPICID: UInt8 = 0
    static let localAPICEntry: UInt8 = 0
    static let ioAPICEntry: UInt8 = 1
    static let enabled: UInt32 = 1

    static func table(vcpuCount: Int) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLittleEndian(localAPICAddress)
        body.appendLittleEndian(UInt32(0))
        for vcpu in 0..<vcpuCount {
            body += [localAPICEntry, 8, UInt8(vcpu), UInt8(vcpu)]
            body.appendLittleEndian(enabled)
        }
        body += [ioAPICEntry, 12, ioAPICID, 0]
        body.appendLittleEndian(ioAPICAddress)
        body.appendLittleEndian(UInt32(0))
        return ACPITable.make(signature: "APIC", revision: revision, body: body)
    }
}
