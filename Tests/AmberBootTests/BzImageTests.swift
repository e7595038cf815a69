import Foundation
import Testing
@testable import AmberBoot

@Suite struct BzImageTests {
    @Test func parsesTheSetupHeaderOfAValidImage() throws {
        let kernel = SyntheticKernel()
        let image = try kernel.image()
        #expect(image.protocolVersion == 0x020F)
        #expect(image.setupSectors == 4)
        #expect(image.supports64BitEntry)
        #expect(image.initrdAddressMax == 0x7FFF_FFFF)
        #expect(image.commandLineSizeLimit == 2047)
        #expect(image.initSize == 0x200_0000)
        #expect(image.setupHeader.count == 0x202 + Int(SyntheticKernel.headerJump) - 0x1F1)
        #expect(image.protectedModeKernel.count == kernel.payloadSize)
        #expect(image.protectedModeKernel.first == 3)
    }

    @Test func zeroSetupSectorsMeansFour() throws {
        var kernel = SyntheticKernel()
        kernel.setupSectors = 0
        let image = try kernel.image()
        #expect(image.setupSectors == 4)
        #expect(image.protectedModeKernel.startIndex == 5 * 512)
    }

    @Test func footprintFollowsTheRuntimeStartAlgorithm() throws {
        var kernel = SyntheticKernel()
        #expect(try kernel.image().footprintEnd(loadAddress: 0x10_0000) == 0x100_0000 + 0x200_0000)
        kernel.preferredAddress = 0
        #expect(try kernel.image().footprintEnd(loadAddress: 0x10_0000) == 0x20_0000 + 0x200_0000)
        kernel.relocatable = 0
        kernel.initSize = 0
        #expect(try kernel.image().footprintEnd(loadAddress: 0x10_0000) == 0x10_0000 + UInt64(kernel.payloadSize))
    }

    @Test func rejectsGarbage() {
        var random = SystemRandomNumberGenerator()
        let garbage = (0..<8192).map { _ in UInt8.random(in: 0...255, using: &random) }
        #expect(throws: BootError("kernel /x/y is not a bzImage (no HdrS signature): pass a Linux bzImage")) {
            try BzImage(bytes: garbage.map { $0 == UInt8(ascii: "H") ? 0 : $0 }, name: "/x/y")
        }
    }

    @Test func rejectsShortFiles() {
        #expect(throws: BootError("kernel /x/short is not a bzImage (only 100 bytes, too short for a boot header): pass a Linux bzImage")) {
            try BzImage(bytes: [UInt8](repeating: 0, count: 100), name: "/x/short")
        }
    }

    @Test func rejectsELFFiles() {
        var bytes = SyntheticKernel().bytes
        bytes.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        #expect(
            throws: BootError(
                "kernel vmlinux is an ELF file (a vmlinux), not a bzImage: pass the bzImage (arch/x86/boot/bzImage or /boot/vmlinuz-*)")
        ) {
            try BzImage(bytes: bytes, name: "vmlinux")
        }
    }

    @Test func rejectsOldProtocols() {
        var kernel = SyntheticKernel()
        kernel.version = 0x0205
        #expect(throws: BootError("kernel k uses boot protocol 2.05; amber needs 2.06 or newer: pass a newer kernel")) {
            try kernel.image(name: "k")
        }
    }

    @Test func rejectsKernelsWithoutA64BitEntry() {
        var kernel = SyntheticKernel()
        kernel.extendedLoadFlags = 0x7E
        #expect(throws: BootError("kernel k has no 64-bit entry point (XLF_KERNEL_64 clear): pass a 64-bit x86 bzImage")) {
            try kernel.image(name: "k")
        }
    }

    @Test func rejectsZImages() {
        var kernel = SyntheticKernel()
        kernel.loadFlags = 0
        #expect(throws: BootError.self) { try kernel.image() }
    }

    @Test func rejectsTruncatedImages() {
        let bytes = Array(SyntheticKernel().bytes.prefix(5 * 512))
        #expect(
            throws: BootError(
                "kernel k is truncated: its header declares 4 setup sectors but the file has 2560 bytes: pass a complete bzImage")
        ) {
            try BzImage(bytes: bytes, name: "k")
        }
    }

    @Test func namesAMissingFile() {
        #expect(throws: BootError("kernel /nonexistent/vmlinuz cannot be opened (No such file or directory): pass a readable file")) {
            try BzImage(path: "/nonexistent/vmlinuz")
        }
    }

    @Test func readsTheFileFromDisk() throws {
        let path = NSTemporaryDirectory() + "amber-bzimage-\(getpid())"
        let kernel = SyntheticKernel()
        #expect(FileManager.default.createFile(atPath: path, contents: Data(kernel.bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let image = try BzImage(path: path)
        #expect(image.name == path)
        #expect(Array(image.protectedModeKernel) == Array(kernel.bytes[(5 * 512)...]))
    }

    /// Debian's cloud kernel, where the harness provides it (AMBER_TEST_KERNEL).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AMBER_TEST_KERNEL"] != nil))
    func parsesARealKernel() throws {
        let image = try BzImage(path: ProcessInfo.processInfo.environment["AMBER_TEST_KERNEL"]!)
        #expect(image.protocolVersion >= 0x020F)
        #expect(image.supports64BitEntry)
        #expect(image.relocatable)
        #expect(image.commandLineSizeLimit >= 2047)
    }
}
