@testable import AmberCore
import AmberSystem
import Glibc
import Testing

/// `MemoryHolder` (a fork holding this process's memory) read through `HeldMemoryReader`, on real
/// anonymous memory of the test process.
@Suite("Held memory")
struct HeldMemoryReaderTests {
    private static let page = 4096

    @Test func readsTheMemoryAsItWasWhenHeldAndSkipsOnlyUntouchedPages() throws {
        let size = 8 << 20
        let region = try MappedRegion(size: size, flags: MAP_PRIVATE | MAP_NORESERVE)
        let base = UInt64(UInt(bitPattern: region.base))
        // Written pages scattered over untouched ones, one page only read (the zero page), one
        // partial run at the end.
        var expected = [UInt8](repeating: 0, count: size)
        for page in [0, 1, 2, 17, 300, 301, 1024, 2047] {
            for byte in 0..<Self.page { expected[page * Self.page + byte] = UInt8(truncatingIfNeeded: page &* 31 &+ byte | 1) }
        }
        expected.withUnsafeBytes { bytes in
            for page in [0, 1, 2, 17, 300, 301, 1024, 2047] {
                (region.base + page * Self.page).copyMemory(from: bytes.baseAddress! + page * Self.page, byteCount: Self.page)
            }
        }
        _ = region.base.load(fromByteOffset: 500 * Self.page, as: UInt8.self)

        let holder = try MemoryHolder()
        defer { holder.end() }
        // Written after the hold: the holder keeps the old bytes.
        region.base.storeBytes(of: 0xEE, toByteOffset: 0, as: UInt8.self)
        memset(region.base + 5 * Self.page, 0x77, Self.page)

        for map in [holder.pagemapPath, nil] {
            let reader = try HeldMemoryReader(memoryPath: holder.memoryPath, address: base, zeroPagesMap: map)
            var held = [UInt8](repeating: 0xFF, count: size)
            // In batches as the ingest reads, one not page-aligned.
            for (start, count) in [(0, 2 << 20), (2 << 20, 6 << 20)] {
                #expect(try held.withUnsafeMutableBytes {
                    try reader.read(at: UInt64(start), into: UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + count)]))
                })
            }
            #expect(held == expected, "with pagemap: \(map != nil)")
            var odd = [UInt8](repeating: 0xFF, count: 100)
            #expect(try odd.withUnsafeMutableBytes { try reader.read(at: UInt64(Self.page) + 10, into: $0) })
            #expect(odd == Array(expected[(Self.page + 10)..<(Self.page + 110)]))
        }
        holder.end()
        #expect(kill(holder.pid, 0) == -1 && errno == ESRCH, "the holder is gone once ended")
    }
}
