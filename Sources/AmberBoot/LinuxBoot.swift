/// Everything needed to start Linux through the 64-bit boot protocol, computed and validated up front
/// (so nothing is written to guest memory when the input is bad): the memory layout the VMM must give
/// KVM, the bytes to place in low guest memory, and the boot vCPU's registers.
///
///     let boot = try LinuxBoot(kernel: BzImage(path: k), initrd: InitialRamdisk(path: i),
///                              commandLine: "console=ttyS0", memorySize: 512 << 20, vcpuCount: 2,
///                              virtioDevices: [GuestMemoryLayout.virtioMMIODevice(index: 0)])
///     // one KVM memory slot per boot.layout.ramRegions entry, then:
///     try boot.load(into: guestMemoryFromGPA0)
///     // boot vCPU: boot.initialCPUState -> kvm_regs / kvm_sregs
public struct LinuxBoot: Sendable {
    public static let maximumVCPUs = 255

    public let layout: GuestMemoryLayout
    public let e820: [E820Entry]
    public let initrdAddress: UInt64?
    public let pageTables: IdentityPageTables
    public let acpiTables: ACPITables
    public let initialCPUState = InitialCPUState()

    let kernel: BzImage
    let initrd: InitialRamdisk?
    let commandLine: [UInt8]

    public init(
        kernel: BzImage, initrd: InitialRamdisk?, commandLine: String, memorySize: UInt64,
        vcpuCount: Int, virtioDevices: [VirtioMMIODeviceSlot]
    ) throws {
        guard (1...Self.maximumVCPUs).contains(vcpuCount) else {
            throw BootError("vCPU count \(vcpuCount) is out of range: use 1 to \(Self.maximumVCPUs)")
        }
        let commandLine = Array(commandLine.utf8)
        guard !commandLine.contains(0) else {
            throw BootError("kernel command line contains a NUL byte: remove it")
        }
        guard commandLine.count <= Int(kernel.commandLineSizeLimit),
            BootAddresses.commandLine + UInt64(commandLine.count) < BootAddresses.ebdaStart
        else {
            throw BootError(
                "kernel command line is \(commandLine.count) bytes; kernel \(kernel.name) accepts at most \(kernel.commandLineSizeLimit): shorten it"
            )
        }
        let layout = GuestMemoryLayout(memorySize: memorySize)
        let kernelEnd = kernel.footprintEnd(loadAddress: BootAddresses.kernel)
        guard kernelEnd <= layout.lowMemoryEnd else {
            throw BootError(
                "memory of \(mebibytes(memorySize)) is too small for kernel \(kernel.name), which needs \(mebibytesRoundedUp(kernelEnd)): give the VM more memory"
            )
        }
        var initrdAddress: UInt64?
        if let initrd {
            let size = UInt64(initrd.bytes.count)
            let top = min(layout.lowMemoryEnd, UInt64(kernel.initrdAddressMax) + 1)
            let pageMask: UInt64 = ~0xFFF
            let alignedKernelEnd = (kernelEnd + 0xFFF) & pageMask
            guard size <= top, (top - size) & pageMask >= alignedKernelEnd else {
                throw BootError(
                    "initrd \(initrd.name) (\(mebibytes(size))) does not fit beside kernel \(kernel.name) in \(mebibytes(memorySize)) of memory: give the VM more memory"
                )
            }
            initrdAddress = (top - size) & pageMask
        }
        self.layout = layout
        self.e820 = E820Entry.map(for: layout)
        self.initrdAddress = initrdAddress
        self.pageTables = IdentityPageTables(coveringUpTo: layout.ramEnd)
        self.acpiTables = try ACPITables(vcpuCount: vcpuCount, virtioDevices: virtioDevices)
        self.kernel = kernel
        self.initrd = initrd
        self.commandLine = commandLine
    }

    /// Writes the GDT, IDT, zero page, page tables, command line, ACPI tables, kernel and initrd into
    /// `memory`, which maps guest-physical address 0 onwards and covers at least all RAM below the gap.
    /// Assumes fresh (zeroed) memory.
    public func load(into memory: UnsafeMutableRawBufferPointer) throws {
        guard UInt64(memory.count) >= layout.lowMemoryEnd else {
            throw BootError(
                "guest memory mapping of \(memory.count) bytes is smaller than the \(layout.lowMemoryEnd) bytes of RAM below 3 GiB")
        }
        func place<C: Collection>(_ bytes: C, at address: UInt64) where C.Element == UInt8 {
            let start = Int(address)
            UnsafeMutableRawBufferPointer(rebasing: memory[start..<(start + bytes.count)]).copyBytes(from: bytes)
        }
        place(BootGDT.bytes(), at: BootAddresses.gdt)
        place([UInt8](repeating: 0, count: 8), at: BootAddresses.idt)
        let initrdPlacement = initrdAddress.map { (address: $0, size: UInt64(initrd!.bytes.count)) }
        place(
            ZeroPage.bytes(kernel: kernel, e820: e820, initrd: initrdPlacement, rsdpAddress: acpiTables.rsdpAddress),
            at: BootAddresses.zeroPage)
        place(pageTables.bytes(), at: BootAddresses.pml4)
        place(commandLine + [0], at: BootAddresses.commandLine)
        for table in acpiTables.tables { place(table.bytes, at: table.address) }
        place(kernel.protectedModeKernel, at: BootAddresses.kernel)
        if let initrd, let initrdAddress { place(initrd.bytes, at: initrdAddress) }
    }
}

func mebibytes(_ bytes: UInt64) -> String {
    bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
}

func mebibytesRoundedUp(_ bytes: UInt64) -> String {
    "\((bytes + (1 << 20) - 1) >> 20) MiB"
}
