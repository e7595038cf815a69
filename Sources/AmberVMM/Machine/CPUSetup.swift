import AmberKVM
import AmberMachineState
import CKVM

/// The per-vCPU set-up every guest gets before its registers are loaded (order from docs/KVM.md):
/// CPUID, MSRs, FPU, then the local APIC's LINT0/LINT1 wiring.
enum CPUSetup {
    static func configure(_ vcpu: KVMVCPU, vcpuCount: Int, supportedCPUID: [kvm_cpuid_entry2]) throws {
        try vcpu.setCPUID(cpuid(for: vcpu.id, vcpuCount: vcpuCount, supported: supportedCPUID))
        try vcpu.setMSRs(bootMSRs)
        var fpu = kvm_fpu()
        fpu.fcw = 0x37F
        fpu.mxcsr = 0x1F80
        try vcpu.setFPU(fpu)
        try wireLocalInterrupts(vcpu)
    }

    static func cpuid(for apicID: UInt32, vcpuCount: Int, supported: [kvm_cpuid_entry2]) -> [kvm_cpuid_entry2] {
        supported.map { entry in
            var entry = entry
            switch entry.function {
            case 1:
                // APIC id and logical processor count in EBX; TSC-deadline timer (Linux's clock event
                // device once the PIT is gone) and the hypervisor bit in ECX.
                entry.ebx = (entry.ebx & 0x0000_FFFF) | (apicID << 24) | (UInt32(min(vcpuCount, 255)) << 16)
                entry.ecx |= (1 << 24) | (1 << 31)
            case 0xB, 0x1F:
                entry.edx = apicID
            case 0xA:
                // No PMU: a guest that found one would program counters PVM and this VMM do not save.
                entry.eax = 0; entry.ebx = 0; entry.ecx = 0; entry.edx = 0
            default:
                break
            }
            return entry
        }
    }

    static let bootMSRs: [MSREntry] = [
        MSREntry(index: 0x174, value: 0),  // SYSENTER_CS
        MSREntry(index: 0x175, value: 0),  // SYSENTER_ESP
        MSREntry(index: 0x176, value: 0),  // SYSENTER_EIP
        MSREntry(index: 0xC000_0081, value: 0),  // STAR
        MSREntry(index: 0xC000_0082, value: 0),  // LSTAR
        MSREntry(index: 0xC000_0083, value: 0),  // CSTAR
        MSREntry(index: 0xC000_0084, value: 0),  // SFMASK
        MSREntry(index: 0xC000_0102, value: 0),  // KERNEL_GS_BASE
        MSREntry(index: 0x10, value: 0),  // TSC: every vCPU starts from the same count
        MSREntry(index: 0x1A0, value: 1),  // MISC_ENABLE: fast strings
        MSREntry(index: 0x2FF, value: 0xC06),  // MTRRdefType: MTRRs on, write-back default
    ]

    /// LINT0 delivers the legacy PIC's interrupts (ExtINT), LINT1 is the NMI line, as on a PC.
    static func wireLocalInterrupts(_ vcpu: KVMVCPU) throws {
        var lapic = try vcpu.lapic()
        withUnsafeMutableBytes(of: &lapic.regs) { registers in
            for (offset, mode) in [(0x350, UInt32(7)), (0x360, UInt32(4))] {
                let old = registers.load(fromByteOffset: offset, as: UInt32.self)
                registers.storeBytes(of: (old & ~0x700) | (mode << 8), toByteOffset: offset, as: UInt32.self)
            }
        }
        try vcpu.setLAPIC(lapic)
    }
}
