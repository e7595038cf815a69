import AmberBoot
import AmberKVM
import CKVM

/// Puts a prepared `LinuxBoot` into a machine: boot data into RAM, the boot vCPU at the 64-bit
/// entry point (`setBootRegisters`). The other vCPUs stay in their reset state until Linux sends them INIT/SIPI.
enum LinuxLoader {
    /// Writes the boot data (kernel, initrd, zero page, tables) into guest RAM.
    static func load(_ boot: LinuxBoot, into memory: GuestRAM) throws {
        guard let low = memory.pointer(guestAddress: 0, count: Int(boot.layout.lowMemoryEnd)) else {
            throw MachineError("guest RAM does not cover the \(boot.layout.lowMemoryEnd) bytes below 3 GiB the boot layout needs")
        }
        try boot.load(into: UnsafeMutableRawBufferPointer(start: low, count: Int(boot.layout.lowMemoryEnd)))
    }

    static func setBootRegisters(_ state: InitialCPUState, on vcpu: KVMVCPU) throws {
        var sregs = try vcpu.specialRegisters()
        sregs.cs = segment(state.cs)
        sregs.ds = segment(state.ds)
        sregs.es = segment(state.es)
        sregs.fs = segment(state.fs)
        sregs.gs = segment(state.gs)
        sregs.ss = segment(state.ss)
        sregs.tr = segment(state.tr)
        sregs.gdt.base = state.gdt.base
        sregs.gdt.limit = state.gdt.limit
        sregs.idt.base = state.idt.base
        sregs.idt.limit = state.idt.limit
        sregs.cr0 = state.cr0
        sregs.cr3 = state.cr3
        sregs.cr4 = state.cr4
        sregs.efer = state.efer
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = state.rip
        regs.rsi = state.rsi
        regs.rsp = state.rsp
        regs.rbp = state.rbp
        regs.rflags = state.rflags
        try vcpu.setRegisters(regs)
    }

    static func segment(_ register: SegmentRegister) -> kvm_segment {
        var segment = kvm_segment()
        segment.base = register.base
        segment.limit = register.limit
        segment.selector = register.selector
        segment.type = register.type
        segment.present = register.present ? 1 : 0
        segment.dpl = register.dpl
        segment.db = register.db ? 1 : 0
        segment.s = register.s ? 1 : 0
        segment.l = register.l ? 1 : 0
        segment.g = register.granularity ? 1 : 0
        segment.avl = register.avl ? 1 : 0
        return segment
    }
}
