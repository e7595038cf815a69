import Foundation
import Testing
@testable import AmberBoot

private let mib: UInt64 = 1 << 20
private let gib: UInt64 = 1 << 30

@Suite struct LinuxBootTests {
    static let sharedInitrd = InitialRamdisk(
        bytes: (0..<(1 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 13) },
        name: "/test/initrd")
    var initrd: InitialRamdisk { Self.sharedInitrd }

    func boot(
        memory: UInt64, vcpus: Int = 2, initrd: InitialRamdisk? = nil, commandLine: String = "console=ttyS0",
        kernel: SyntheticKernel = SyntheticKernel()
    ) throws -> LinuxBoot {
        try LinuxBoot(
            kernel: kernel.image(), initrd: initrd, commandLine: commandLine, memorySize: memory,
            vcpuCount: vcpus, virtioDevices: [GuestMemoryLayout.virtioMMIODevice(index: 0)])
    }

    @Test(arguments: [
        (
            64 * mib,
            [
                E820Entry(address: 0, size: 0x9FC00, kind: .ram),
                E820Entry(address: 0x9FC00, size: 0x60400, kind: .reserved),
                E820Entry(address: mib, size: 63 * mib, kind: .ram),
            ]
        ),
        (
            512 * mib,
            [
                E820Entry(address: 0, size: 0x9FC00, kind: .ram),
                E820Entry(address: 0x9FC00, size: 0x60400, kind: .reserved),
                E820Entry(address: mib, size: 511 * mib, kind: .ram),
            ]
        ),
        (
            4 * gib,
            [
                E820Entry(address: 0, size: 0x9FC00, kind: .ram),
                E820Entry(address: 0x9FC00, size: 0x60400, kind: .reserved),
                E820Entry(address: mib, size: 3 * gib - mib, kind: .ram),
                E820Entry(address: 4 * gib, size: gib, kind: .ram),
            ]
        ),
        (
            8 * gib,
            [
                E820Entry(address: 0, size: 0x9FC00, kind: .ram),
                E820Entry(address: 0x9FC00, size: 0x60400, kind: .reserved),
                E820Entry(address: mib, size: 3 * gib - mib, kind: .ram),
                E820Entry(address: 4 * gib, size: 5 * gib, kind: .ram),
            ]
        ),
    ])
    func e820MapsRAMAroundTheGap(memory: UInt64, expected: [E820Entry]) throws {
        let boot = try boot(memory: memory)
        #expect(boot.e820 == expected)
        let ram = boot.e820.filter { $0.kind == .ram }.reduce(0) { $0 + $1.size }
        #expect(ram == memory - 0x60400, "all memory but the legacy area is RAM")
        let slots = boot.layout.ramRegions
        #expect(slots.reduce(0) { $0 + $1.size } == memory)
        #expect(slots.allSatisfy { $0.end <= 3 * gib || $0.guestAddress >= 4 * gib })
    }

    /// The initrd sits at the top of low RAM, page aligned, below initrd_addr_max (2 GiB here).
    @Test(arguments: [
        (64 * mib, 64 * mib), (512 * mib, 512 * mib), (4 * gib, 2 * gib), (8 * gib, 2 * gib),
    ])
    func initrdGoesToTheTopOfUsableMemory(memory: UInt64, top: UInt64) throws {
        let boot = try boot(memory: memory, initrd: initrd)
        let address = try #require(boot.initrdAddress)
        let size = UInt64(initrd.bytes.count)
        #expect(address % 4096 == 0)
        #expect(address + size <= top)
        #expect(top - (address + size) < 4096)
    }

    @Test func initrdRespectsASmallerInitrdAddressMax() throws {
        var kernel = SyntheticKernel()
        kernel.initrdAddressMax = 0x37FF_FFFF
        let boot = try boot(memory: 4 * gib, initrd: initrd, kernel: kernel)
        let address = try #require(boot.initrdAddress)
        #expect(address + UInt64(initrd.bytes.count) <= 0x3800_0000)
        #expect(address + UInt64(initrd.bytes.count) > 0x3800_0000 - 4096)
    }

    @Test func writesTheZeroPageCommandLineAndKernel() throws {
        let memory = TestGuestMemory(size: 64 * mib)
        let kernel = SyntheticKernel()
        let boot = try boot(memory: 64 * mib, initrd: initrd, commandLine: "console=ttyS0 panic=1", kernel: kernel)
        try boot.load(into: memory.buffer)

        let zeroPage: UInt64 = 0x7000
        #expect(memory.bytes(at: zeroPage + 0x202, count: 4) == Array("HdrS".utf8))
        #expect(memory.load(UInt16.self, at: zeroPage + 0x206) == 0x020F)
        #expect(memory.bytes(at: zeroPage + 0x26B, count: 1) == [kernel.bytes[0x26B]], "header copied to its end")
        #expect(memory.load(UInt8.self, at: zeroPage + 0x210) == 0xFF)
        #expect(memory.load(UInt32.self, at: zeroPage + 0x228) == 0x20000)
        #expect(memory.load(UInt32.self, at: zeroPage + 0x218) == UInt32(boot.initrdAddress!))
        #expect(memory.load(UInt32.self, at: zeroPage + 0x21C) == UInt32(initrd.bytes.count))
        #expect(memory.load(UInt64.self, at: zeroPage + 0x070) == 0xE0000)
        #expect(memory.load(UInt8.self, at: zeroPage + 0x1E8) == 3)
        #expect(memory.load(UInt64.self, at: zeroPage + 0x2D0 + 40) == 0x100000)
        #expect(memory.load(UInt64.self, at: zeroPage + 0x2D0 + 48) == 63 * mib)
        #expect(memory.load(UInt32.self, at: zeroPage + 0x2D0 + 56) == 1)

        #expect(memory.bytes(at: 0x20000, count: 22) == Array("console=ttyS0 panic=1".utf8) + [0])
        #expect(memory.bytes(at: 0x100000, count: kernel.payloadSize) == Array(kernel.bytes[(5 * 512)...]))
        #expect(memory.bytes(at: boot.initrdAddress!, count: initrd.bytes.count) == initrd.bytes)
        #expect(memory.bytes(at: 0xE0000, count: 8) == Array("RSD PTR ".utf8))
        #expect(memory.load(UInt64.self, at: 0x508) == 0x00AF_9B00_0000_FFFF)
    }

    @Test func initialRegistersEnterLongModeAtTheKernel() throws {
        let state = try boot(memory: 64 * mib).initialCPUState
        #expect(state.rip == 0x100200)
        #expect(state.rsi == 0x7000)
        #expect(state.rflags == 2)
        #expect(state.cr0 == 0x8000_0011 && state.cr3 == 0x9000 && state.cr4 == 0x20 && state.efer == 0x500)
        #expect(state.cs.selector == 8 && state.cs.l && !state.cs.db && state.cs.type == 0xB && state.cs.present)
        #expect(state.cs.limit == 0xFFFF_FFFF && state.cs.granularity && state.cs.s && state.cs.base == 0)
        #expect(state.ds.selector == 0x10 && state.ds.db && !state.ds.l && state.ds.type == 3)
        #expect(state.ss == state.ds)
        #expect(state.tr.selector == 0x18 && !state.tr.s && state.tr.type == 0xB)
        #expect(state.gdt == DescriptorTableRegister(base: 0x500, limit: 31))
    }

    /// Walks the tables the way the MMU does and checks the identity mapping.
    @Test(arguments: [64 * mib, 8 * gib])
    func pageTablesIdentityMapAllRAM(memory: UInt64) throws {
        let guest = TestGuestMemory(size: min(memory, 3 * gib))
        let boot = try boot(memory: memory)
        try boot.load(into: guest.buffer)
        func translate(_ address: UInt64) -> UInt64? {
            let pml4e = guest.load(UInt64.self, at: 0x9000 + ((address >> 39) & 0x1FF) * 8)
            guard pml4e & 1 == 1 else { return nil }
            let pdpte = guest.load(UInt64.self, at: (pml4e & ~0xFFF) + ((address >> 30) & 0x1FF) * 8)
            guard pdpte & 1 == 1 else { return nil }
            let pde = guest.load(UInt64.self, at: (pdpte & ~0xFFF) + ((address >> 21) & 0x1FF) * 8)
            guard pde & 0x83 == 0x83 else { return nil }
            return (pde & ~0x1F_FFFF) | (address & 0x1F_FFFF)
        }
        let expectedEnd = max(4 * gib, boot.layout.ramEnd)
        #expect(boot.pageTables.mappedEnd == expectedEnd)
        for address in [0, 0x7000, 0x100200, 3 * gib - 1, 4 * gib - 1, expectedEnd - 1] as [UInt64] {
            #expect(translate(address) == address)
        }
        #expect(translate(expectedEnd) == nil)
    }

    @Test func rejectsMemoryTooSmallForTheKernel() {
        #expect(throws: BootError("memory of 32 MiB is too small for kernel /test/bzImage, which needs 48 MiB: give the VM more memory")) {
            try boot(memory: 32 * mib)
        }
    }

    @Test func rejectsAnInitrdThatDoesNotFit() {
        let big = InitialRamdisk(bytes: [UInt8](repeating: 1, count: Int(20 * mib)), name: "/test/big")
        #expect(
            throws: BootError(
                "initrd /test/big (20 MiB) does not fit beside kernel /test/bzImage in 64 MiB of memory: give the VM more memory")
        ) {
            try boot(memory: 64 * mib, initrd: big)
        }
    }

    @Test func rejectsOverlongCommandLines() {
        #expect(throws: BootError("kernel command line is 2048 bytes; kernel /test/bzImage accepts at most 2047: shorten it")) {
            try boot(memory: 64 * mib, commandLine: String(repeating: "x", count: 2048))
        }
    }

    @Test(arguments: [0, 256])
    func rejectsVCPUCountsOutOfRange(vcpus: Int) {
        #expect(throws: BootError("vCPU count \(vcpus) is out of range: use 1 to 255")) {
            try boot(memory: 64 * mib, vcpus: vcpus)
        }
    }

    @Test func memoryLayoutTranslatesGuestAddressesToFileOffsets() {
        let layout = GuestMemoryLayout(memorySize: 5 * gib)
        #expect(layout.fileOffset(ofGuestAddress: 0x1000, count: 16) == 0x1000)
        #expect(layout.fileOffset(ofGuestAddress: 4 * gib + 8, count: 16) == 3 * gib + 8)
        #expect(layout.fileOffset(ofGuestAddress: 3 * gib - 8, count: 16) == nil, "crosses into the gap")
        #expect(layout.fileOffset(ofGuestAddress: 3 * gib + 8, count: 1) == nil, "inside the gap")
        #expect(layout.fileOffset(ofGuestAddress: 6 * gib, count: 1) == nil, "beyond RAM")
    }
}

/// Debian's cloud kernel, where the harness provides it (AMBER_TEST_KERNEL).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["AMBER_TEST_KERNEL"] != nil))
struct RealKernelBootTests {
    let kernel: BzImage

    init() throws {
        kernel = try BzImage(path: ProcessInfo.processInfo.environment["AMBER_TEST_KERNEL"]!)
    }

    @Test func loadsIntoAVMOf256MiB() throws {
        let memory = TestGuestMemory(size: 256 << 20)
        let initrd = InitialRamdisk(bytes: [UInt8](repeating: 0x5A, count: 8 << 20), name: "initrd")
        let boot = try LinuxBoot(
            kernel: kernel, initrd: initrd, commandLine: "console=ttyS0 reboot=k panic=1 pci=off",
            memorySize: 256 << 20, vcpuCount: 2, virtioDevices: [GuestMemoryLayout.virtioMMIODevice(index: 0)])
        try boot.load(into: memory.buffer)
        #expect(memory.bytes(at: 0x7000 + 0x202, count: 4) == Array("HdrS".utf8))
        #expect(memory.bytes(at: 0x100000, count: 4096) == Array(kernel.protectedModeKernel.prefix(4096)))
        let initrdAddress = try #require(boot.initrdAddress)
        #expect(initrdAddress >= kernel.footprintEnd(loadAddress: 0x100000))
        #expect(initrdAddress + (8 << 20) <= 256 << 20)
    }

    /// Runtime start 16 MiB (pref_address) plus init_size: about 68 MiB for Debian's 6.1 kernel.
    @Test func needsMoreThan64MiB() {
        #expect(throws: BootError.self) {
            try LinuxBoot(
                kernel: kernel, initrd: nil, commandLine: "", memorySize: 64 << 20, vcpuCount: 1,
                virtioDevices: [])
        }
    }
}
