import AmberSystem
import AmberTestSupport
import Glibc
import Testing
@testable import AmberVirtio

/// Random rings from a hostile guest: whatever the descriptor table and available ring hold, the device
/// neither crashes nor hangs; each round ends with the request served or the device asking for a reset.
@Suite struct VirtqueueFuzzTests {
    /// Seeded: reproducible rounds without depending on the system generator's algorithm.
    @Test func randomDescriptorsNeverCrashOrHangTheDevice() throws {
        let disk = try TestDiskImage()
        let device = try VirtioBlockDevice(path: disk.path, readOnly: false)
        defer { device.stop() }
        let driver = try TestDriver(device: device, memory: try MappedRegion(size: 4 << 20, flags: MAP_PRIVATE), queueSize: 16)
        var random = SeededGenerator(seed: 0x9E37_79B9_7F4A_7C15)
        let memorySize = UInt64(driver.memory.size)
        var served = 0
        var refused = 0
        for _ in 0..<300 {
            driver.start()
            for index in 0..<UInt16(16) {
                // Mostly addresses around guest RAM above the rings (a guest scribbling over its own
                // rings is its business, and would only make the outcome unobservable here).
                let nearMemory = random.next() % 4 != 0
                let address = nearMemory ? 0x8000 + random.next() % (memorySize - 0x7000) : random.next()
                let length = nearMemory ? UInt32(random.next() % 0x3000) : UInt32(truncatingIfNeeded: random.next())
                let flags = UInt16(random.next() % 8)
                let next = UInt16(random.next() % 24)
                driver.setDescriptor(index, address: address, length: length, flags: flags, next: next)
            }
            let header = driver.allocate(16)
            driver.store(UInt32(random.next() % 10), at: header)
            driver.store(random.next() % 4096, at: header + 8)
            driver.submit(head: UInt16(random.next() % 20))
            let finished = driver.waitUntil {
                driver.usedIndex == 1 || driver.register(VirtioMMIORegister.status) & VirtioStatus.needsReset != 0
            }
            #expect(finished)
            if driver.usedIndex == 1 { served += 1 } else { refused += 1 }
        }
        #expect(served > 0 && refused > 0, "the rounds exercise both outcomes")
    }
}
