@testable import AmberCore
import AmberSystem
import Foundation
import Glibc
import Testing

/// `MemoryHolder` (a fork holding this process's memory) read through `HeldMemoryReader`, on real
/// memory of the test process: anonymous, as a booted VM's RAM, and a private mapping of a file, as a
/// restored VM's.
@Suite("Held memory")
struct HeldMemoryReaderTests {
    private static let page = HeldMemoryReader.pageSize
    private static let written = [0, 1, 2, 17, 300, 301, 1024, 2047]

    private static func pattern(_ page: Int) -> [UInt8] {
        (0..<Self.page).map { UInt8(truncatingIfNeeded: page &* 31 &+ $0 | 1) }
    }

    private func read(_ reader: HeldMemoryReader, size: Int) throws -> [UInt8] {
        var held = [UInt8](repeating: 0xFF, count: size)
        // In batches as the ingest reads them.
        for start in stride(from: 0, to: size, by: 2 << 20) {
            #expect(
                try held.withUnsafeMutableBytes {
                    try reader.read(
                        at: UInt64(start), into: UnsafeMutableRawBufferPointer(rebasing: $0[start..<min(size, start + (2 << 20))]))
                })
        }
        return held
    }

    @Test func anonymousMemoryReadsAsItWasWhenHeldWithUntouchedPagesAsZeros() throws {
        let size = 8 << 20
        let region = try MappedRegion(size: size, flags: MAP_PRIVATE | MAP_NORESERVE)
        let base = UInt64(UInt(bitPattern: region.base))
        var expected = [UInt8](repeating: 0, count: size)
        for page in Self.written {
            expected.replaceSubrange((page * Self.page)..<((page + 1) * Self.page), with: Self.pattern(page))
            Self.pattern(page).withUnsafeBytes { (region.base + page * Self.page).copyMemory(from: $0.baseAddress!, byteCount: Self.page) }
        }

        let holder = try MemoryHolder()
        defer { holder.end() }
        // Written after the hold: the holder keeps the old bytes.
        region.base.storeBytes(of: 0xEE, toByteOffset: 0, as: UInt8.self)
        memset(region.base + 5 * Self.page, 0x77, Self.page)

        let untouched = try #require(HeldMemoryReader.untouchedPages(pagemapPath: holder.pagemapPath, address: base, length: UInt64(size)))
        #expect(untouched.count == size / Self.page)
        #expect(Self.written.allSatisfy { !untouched[$0] }, "written pages are touched")
        #expect([3, 5, 1000, 2000].allSatisfy { untouched[$0] }, "pages written only after the hold are not, in the holder")

        let everyPage = try HeldMemoryReader(memoryPath: holder.memoryPath, address: base, pages: nil)
        #expect(try read(everyPage, size: size) == expected)
        let skippingZeros = try HeldMemoryReader(
            memoryPath: holder.memoryPath, address: base,
            pages: untouched.map { $0 ? .zero : .read })
        #expect(try read(skippingZeros, size: size) == expected)
        let skipping = try HeldMemoryReader(
            memoryPath: holder.memoryPath, address: base,
            pages: untouched.indices.map { $0 == 3 ? .skip : .read })
        let skipped = try read(skipping, size: size)
        #expect(skipped[(3 * Self.page)..<(4 * Self.page)].allSatisfy { $0 == 0xFF }, "a skipped page is left alone")
        #expect(skipped[(4 * Self.page)...] == expected[(4 * Self.page)...])
        var odd = [UInt8](repeating: 0xFF, count: 100)
        #expect(try odd.withUnsafeMutableBytes { try skippingZeros.read(at: UInt64(Self.page) + 10, into: $0) })
        #expect(odd == Array(expected[(Self.page + 10)..<(Self.page + 110)]))

        holder.end()
        #expect(kill(holder.pid, 0) == -1 && errno == ESRCH, "the holder is gone once ended")
    }

    @Test func aPrivateFileMappingsUntouchedPagesAreThoseStillTheFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("held-\(UUID().uuidString)").path
        defer { unlink(path) }
        let size = 1 << 20
        let content = (0..<size).map { UInt8(truncatingIfNeeded: $0 / Self.page &+ 1) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
        let file = try FileDescriptor.open(path, O_RDONLY)
        let region = try MappedRegion(size: size, fd: file, flags: MAP_PRIVATE | MAP_NORESERVE)
        let base = UInt64(UInt(bitPattern: region.base))
        memset(region.base + 7 * Self.page, 0x42, Self.page)  // copied: now the VM's own
        _ = region.base.load(fromByteOffset: 9 * Self.page, as: UInt8.self)  // still the file's page

        let holder = try MemoryHolder()
        defer { holder.end() }
        let untouched = try #require(HeldMemoryReader.untouchedPages(pagemapPath: holder.pagemapPath, address: base, length: UInt64(size)))
        #expect(!untouched[7])
        #expect(untouched[9] && untouched[0] && untouched[200])
        var expected = content
        expected.replaceSubrange((7 * Self.page)..<(8 * Self.page), with: repeatElement(0x42, count: Self.page))
        let reader = try HeldMemoryReader(memoryPath: holder.memoryPath, address: base, pages: nil)
        #expect(try read(reader, size: size) == expected)
    }
}
