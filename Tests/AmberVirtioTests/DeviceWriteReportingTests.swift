import AmberSystem
import Foundation
import Glibc
import Testing
@testable import AmberVirtio

/// Guest memory that remembers which ranges devices reported as written, as the VMM's dirty tracking will.
final class RecordingGuestMemory: GuestMemory, @unchecked Sendable {
    let region: MappedRegion
    private let lock = NSLock()
    private var ranges: [ClosedRange<UInt64>] = []

    init(size: Int) throws {
        region = try MappedRegion(size: size, flags: MAP_PRIVATE)
    }

    func pointer(at gpa: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        region.pointer(at: gpa, count: count)
    }

    func didWrite(at gpa: UInt64, count: Int) {
        lock.withLock { ranges.append(gpa...(gpa + UInt64(count) - 1)) }
    }

    var written: [ClosedRange<UInt64>] {
        lock.withLock { ranges }
    }
}

@Suite struct DeviceWriteReportingTests {
    @Test func reportsDataStatusAndUsedRingWrites() throws {
        let disk = try TestDiskImage()
        let device = try VirtioBlockDevice(path: disk.path, readOnly: false)
        defer { device.stop() }
        let memory = try RecordingGuestMemory(size: 4 << 20)
        let driver = try TestDriver(device: device, memory: memory.region, deviceMemory: memory)
        driver.start()
        let read = driver.blockRequest(type: 0, sector: 1, dataLength: 1024, deviceWritesData: true)
        #expect(driver.run(read) == 0)
        let usedRing = TestDriver.usedRing
        #expect(
            memory.written == [
                read.data...(read.data + 1023), read.status...read.status,
                (usedRing + 2)...(usedRing + 3), (usedRing + 4)...(usedRing + 11),
            ])
        let write = driver.blockRequest(type: 1, sector: 1, dataLength: 512, deviceWritesData: false)
        #expect(driver.run(write) == 0)
        #expect(
            Array(memory.written.dropFirst(4)) == [
                write.status...write.status,
                (usedRing + 2)...(usedRing + 3), (usedRing + 12)...(usedRing + 19),
            ])
    }
}
