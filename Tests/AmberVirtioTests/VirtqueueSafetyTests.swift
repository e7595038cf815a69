import AmberSystem
import Testing
@testable import AmberVirtio

/// A guest controls every index, address and length in the rings; none of them may crash or hang the
/// device. Each broken request puts the device into DEVICE_NEEDS_RESET; a reset brings it back.
@Suite struct VirtqueueSafetyTests {
    let disk: TestDiskImage
    let device: VirtioBlockDevice
    let driver: TestDriver

    init() throws {
        disk = try TestDiskImage()
        device = try VirtioBlockDevice(path: disk.path, readOnly: false)
        driver = try TestDriver(device: device)
        driver.start()
    }

    func expectNeedsResetThenRecovers() {
        #expect(driver.waitUntil { driver.register(VirtioMMIORegister.status) & VirtioStatus.needsReset != 0 })
        #expect(driver.register(VirtioMMIORegister.interruptStatus) & 2 == 2, "configuration-change interrupt")
        #expect(device.guestError != nil)
        driver.start()
        #expect(driver.register(VirtioMMIORegister.status) & VirtioStatus.needsReset == 0)
        #expect(driver.run(driver.blockRequest(type: 0, sector: 1, dataLength: 512, deviceWritesData: true)) == 0)
        device.stop()
    }

    @Test func bufferOutsideGuestMemory() {
        let header = driver.allocate(16)
        let status = driver.allocate(1)
        let head = driver.addChain([(header, 16, false), (0xFFFF_FFFF_0000, 512, true), (status, 1, true)])
        driver.submit(head: head)
        expectNeedsResetThenRecovers()
    }

    @Test func bufferRunningPastTheEndOfMemory() {
        let header = driver.allocate(16)
        let head = driver.addChain([(header, 16, false), (UInt64(driver.memory.size) - 100, 512, true)])
        driver.submit(head: head)
        expectNeedsResetThenRecovers()
    }

    @Test func descriptorLoop() {
        let header = driver.allocate(16)
        driver.setDescriptor(0, address: header, length: 16, flags: TestDriver.next, next: 1)
        driver.setDescriptor(1, address: header, length: 16, flags: TestDriver.next, next: 0)
        driver.submit(head: 0)
        expectNeedsResetThenRecovers()
    }

    @Test func loopInsideAnIndirectTable() {
        let header = driver.allocate(16)
        let table = driver.allocate(32)
        driver.setDescriptor(0, address: header, length: 16, flags: TestDriver.next, next: 1, table: table)
        driver.setDescriptor(1, address: header, length: 16, flags: TestDriver.next, next: 0, table: table)
        driver.setDescriptor(0, address: table, length: 32, flags: TestDriver.indirect)
        driver.submit(head: 0)
        expectNeedsResetThenRecovers()
    }

    @Test func nestedIndirectTable() {
        let table = driver.allocate(16)
        driver.setDescriptor(0, address: table, length: 16, flags: TestDriver.indirect, table: table)
        driver.setDescriptor(0, address: table, length: 16, flags: TestDriver.indirect)
        driver.submit(head: 0)
        expectNeedsResetThenRecovers()
    }

    @Test func indirectTableOfBadLength() {
        let table = driver.allocate(16)
        driver.setDescriptor(0, address: table, length: 15, flags: TestDriver.indirect)
        driver.submit(head: 0)
        expectNeedsResetThenRecovers()
    }

    @Test func nextIndexOutsideTheTable() {
        let header = driver.allocate(16)
        driver.setDescriptor(0, address: header, length: 16, flags: TestDriver.next, next: 5000)
        driver.submit(head: 0)
        expectNeedsResetThenRecovers()
    }

    @Test func headIndexOutsideTheTable() {
        driver.submit(head: 999)
        expectNeedsResetThenRecovers()
    }

    @Test func availableIndexRunningAhead() {
        driver.store(UInt16(1000), at: TestDriver.availableRing + 2)
        driver.setRegister(VirtioMMIORegister.queueNotify, 0)
        expectNeedsResetThenRecovers()
    }

    @Test func chainWithoutStatusByteIsReturnedEmpty() {
        let header = driver.allocate(16)
        driver.store(UInt32(0), at: header)
        let head = driver.addChain([(header, 16, false)])
        driver.submit(head: head)
        #expect(driver.waitForUsed(1))
        #expect(driver.usedElement(0).length == 0)
        #expect(driver.register(VirtioMMIORegister.status) & VirtioStatus.needsReset == 0)
        device.stop()
    }

    @Test func queueOutsideGuestMemoryIsRefusedAtDriverOK() {
        #expect(driver.negotiate())
        driver.setRegister(VirtioMMIORegister.queueSelect, 0)
        driver.setRegister(VirtioMMIORegister.queueSize, 128)
        driver.setRegister(VirtioMMIORegister.queueDescriptorLow, 0)
        driver.setRegister(VirtioMMIORegister.queueDescriptorHigh, 0x10)
        driver.setRegister(VirtioMMIORegister.queueReady, 1)
        driver.setRegister(VirtioMMIORegister.status, 0xF)
        #expect(driver.register(VirtioMMIORegister.status) & VirtioStatus.needsReset != 0)
        device.stop()
    }

    @Test func oddAccessWidthsAndOffsetsAreIgnored() {
        #expect(driver.transport.read(offset: VirtioMMIORegister.magicValue, size: 2) == 0)
        #expect(driver.transport.read(offset: 0x0F0, size: 4) == 0)
        #expect(driver.transport.read(offset: 0x2000, size: 4) == 0)
        #expect(driver.transport.read(offset: 0x100, size: 16) == 0)
        #expect(driver.register(VirtioMMIORegister.sharedMemoryLengthLow) == 0xFFFF_FFFF, "no shared memory region")
        driver.transport.write(offset: VirtioMMIORegister.status, size: 1, value: 0)
        #expect(driver.register(VirtioMMIORegister.status) & VirtioStatus.driverOK != 0)
        var bytes = [UInt8](repeating: 0, count: 4)
        bytes.withUnsafeMutableBytes { driver.transport.read(offset: VirtioMMIORegister.magicValue, into: $0) }
        #expect(bytes == Array("virt".utf8))
        device.stop()
    }
}
