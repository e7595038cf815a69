import AmberSystem
import Foundation
import Glibc
import Testing

/// `WriteTracker` on anonymous memory of the test process: written pages are reported once, then
/// protected again; writes through /proc/self/mem (as the kernel writes for others) count too.
@Suite("Write tracking")
struct WriteTrackerTests {
    @Test func reportsEachWrittenPageOnceUntilWrittenAgain() throws {
        let page = WriteTracker.pageSize
        let region = try MappedRegion(size: 4 << 20, flags: MAP_PRIVATE | MAP_NORESERVE)
        memset(region.base, 1, 64 * page)  // touched before tracking
        let tracker = try WriteTracker(base: region.base, size: region.size)
        #expect(try tracker.takeWrittenPages().isEmpty)

        region.base.storeBytes(of: 2, toByteOffset: 3 * page, as: UInt8.self)
        memset(region.base + 10 * page, 3, 3 * page)
        region.base.storeBytes(of: 4, toByteOffset: 900 * page + 5, as: UInt8.self)  // never touched before
        _ = region.base.load(fromByteOffset: 700 * page, as: UInt8.self)  // read only
        let mem = try FileDescriptor.open("/proc/self/mem", O_RDWR)
        try [UInt8](repeating: 5, count: 10).withUnsafeBytes {
            try mem.write($0, at: UInt64(UInt(bitPattern: region.base)) + UInt64(20 * page))
        }
        let written = Set(try tracker.takeWrittenPages().flatMap { Array($0) })
        #expect(written.isSuperset(of: [3, 10, 11, 12, 900, 20]), "\(written.sorted())")
        #expect(written.isDisjoint(with: [0, 4, 9, 13, 63, 899]), "\(written.sorted())")
        #expect(try tracker.takeWrittenPages().isEmpty, "protected again")

        region.base.storeBytes(of: 6, toByteOffset: 3 * page, as: UInt8.self)
        #expect(try tracker.takeWrittenPages() == [3..<4])
    }
}
