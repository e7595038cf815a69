import AmberMachineState
import AmberSystem
import Foundation
import Testing
import AmberDisk
@testable import AmberVirtio

@Suite struct VirtioBlockDeviceTests {
    let disk: TestDiskImage

    init() throws {
        disk = try TestDiskImage()
    }

    func makeDevice(readOnly: Bool = false) throws -> VirtioBlockDevice {
        try VirtioBlockDevice(path: disk.path, readOnly: readOnly, serial: "amber-disk-0")
    }

    @Test func presentsABlockDeviceToTheDriver() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        #expect(driver.register(VirtioMMIORegister.magicValue) == 0x7472_6976)
        #expect(driver.register(VirtioMMIORegister.version) == 2)
        #expect(driver.register(VirtioMMIORegister.deviceID) == 2)
        let features = driver.offeredFeatures
        #expect(features & (1 << 32) != 0, "VERSION_1")
        #expect(features & (1 << 9) != 0, "FLUSH")
        #expect(features & (1 << 28) != 0, "INDIRECT_DESC")
        #expect(features & (1 << 5) == 0, "not read-only")
        #expect(driver.transport.read(offset: 0x100, size: 4) == 2048)
        #expect(driver.transport.read(offset: 0x104, size: 4) == 0)
        #expect(driver.transport.read(offset: 0x100, size: 8) == 2048)
        #expect(driver.transport.read(offset: 0x10C, size: 4) == 254, "seg_max")
        #expect(driver.negotiate())
        driver.setRegister(VirtioMMIORegister.queueSelect, 0)
        #expect(driver.register(VirtioMMIORegister.queueSizeMaximum) == 256)
        driver.setRegister(VirtioMMIORegister.queueSelect, 1)
        #expect(driver.register(VirtioMMIORegister.queueSizeMaximum) == 0)
    }

    @Test func refusesFeaturesItDidNotOfferOrALegacyDriver() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        #expect(!driver.negotiate(features: driver.offeredFeatures | (1 << 6)))
        #expect(!driver.negotiate(features: 1 << 9), "VERSION_1 not accepted")
        #expect(driver.negotiate(features: 1 << 32))
    }

    @Test func readsSectorsIntoGuestMemory() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        _ = driver.takeInterrupts()
        let request = driver.blockRequest(type: 0, sector: 3, dataLength: 1024, deviceWritesData: true)
        #expect(driver.run(request) == 0)
        #expect(driver.bytes(at: request.data, count: 1024) == (try disk.bytes(sector: 3, count: 2)))
        #expect(driver.usedElement(0).id == UInt32(request.head))
        #expect(driver.usedElement(0).length == 1025)
        #expect(driver.register(VirtioMMIORegister.interruptStatus) & 1 == 1)
        #expect(driver.waitUntil { driver.takeInterrupts() > 0 })
        driver.setRegister(VirtioMMIORegister.interruptAcknowledge, 1)
        #expect(driver.register(VirtioMMIORegister.interruptStatus) == 0)
    }

    @Test func writesGuestDataToTheImage() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        let request = driver.blockRequest(type: 1, sector: 2047, dataLength: 512, deviceWritesData: false)
        let data = (0..<512).map { UInt8(truncatingIfNeeded: 255 - $0) }
        driver.copy(data, to: request.data)
        #expect(driver.run(request) == 0)
        #expect(try disk.bytes(sector: 2047, count: 1) == data)
        #expect(try disk.bytes(sector: 2046, count: 1) == (0..<512).map { TestDiskImage.patternByte(offset: 2046 * 512 + $0) })
        #expect(driver.usedElement(0).length == 1)
    }

    @Test func readOnlyDevicesOfferROAndRefuseWrites() throws {
        let device = try makeDevice(readOnly: true)
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        #expect(driver.offeredFeatures & (1 << 5) != 0)
        driver.start()
        let before = try disk.bytes(sector: 0, count: 1)
        let request = driver.blockRequest(type: 1, sector: 0, dataLength: 512, deviceWritesData: false)
        driver.copy([UInt8](repeating: 0xAB, count: 512), to: request.data)
        #expect(driver.run(request) == 1)
        #expect(try disk.bytes(sector: 0, count: 1) == before)
        let read = driver.blockRequest(type: 0, sector: 0, dataLength: 512, deviceWritesData: true)
        #expect(driver.run(read) == 0)
        #expect(driver.bytes(at: read.data, count: 512) == before)
    }

    @Test func flushesAndReportsItsSerial() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        #expect(driver.run(driver.blockRequest(type: 4, sector: 0, dataLength: 0, deviceWritesData: false)) == 0)
        let id = driver.blockRequest(type: 8, sector: 0, dataLength: 20, deviceWritesData: true)
        #expect(driver.run(id) == 0)
        #expect(driver.bytes(at: id.data, count: 12) == Array("amber-disk-0".utf8))
        #expect(driver.usedElement(1).length == 13)
    }

    @Test func requestsBeyondTheDiskFailWithIOError() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        #expect(driver.run(driver.blockRequest(type: 0, sector: 2047, dataLength: 1024, deviceWritesData: true)) == 1)
        #expect(driver.run(driver.blockRequest(type: 0, sector: 2048, dataLength: 512, deviceWritesData: true)) == 1)
        #expect(driver.run(driver.blockRequest(type: 0, sector: .max, dataLength: 512, deviceWritesData: true)) == 1)
        #expect(driver.run(driver.blockRequest(type: 1, sector: .max / 512, dataLength: 512, deviceWritesData: false)) == 1)
        #expect(
            driver.run(driver.blockRequest(type: 0, sector: 0, dataLength: 100, deviceWritesData: true)) == 1,
            "not a whole sector")
        #expect(driver.run(driver.blockRequest(type: 0, sector: 2047, dataLength: 512, deviceWritesData: true)) == 0)
        #expect(
            driver.run(driver.blockRequest(type: 11, sector: 0, dataLength: 512, deviceWritesData: false)) == 2,
            "unsupported type")
    }

    /// Framing carries no meaning: header and data share a descriptor, data spans several.
    @Test func acceptsAnyFramingOfARequest() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        let headerAndData = driver.allocate(16 + 512)
        driver.store(UInt32(1), at: headerAndData)
        driver.store(UInt64(10), at: headerAndData + 8)
        let payload = (0..<1536).map { UInt8(truncatingIfNeeded: $0 * 7) }
        driver.copy(Array(payload[0..<512]), to: headerAndData + 16)
        let rest = driver.allocate(1024)
        driver.copy(Array(payload[512...]), to: rest)
        let status = driver.allocate(1)
        let head = driver.addChain([
            (headerAndData, 16 + 300, false), (headerAndData + 316, 212, false),
            (rest, 1024, false), (status, 1, true),
        ])
        driver.submit(head: head)
        #expect(driver.waitForUsed(1))
        #expect(driver.load(UInt8.self, at: status) == 0)
        #expect(try disk.bytes(sector: 10, count: 3) == payload)
    }

    @Test func servesIndirectDescriptorTables() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        let header = driver.allocate(16)
        driver.store(UInt32(0), at: header)
        driver.store(UInt64(5), at: header + 8)
        let data = driver.allocate(512)
        let status = driver.allocate(1)
        let table = driver.allocate(48)
        driver.setDescriptor(0, address: header, length: 16, flags: TestDriver.next, next: 1, table: table)
        driver.setDescriptor(1, address: data, length: 512, flags: TestDriver.next | TestDriver.write, next: 2, table: table)
        driver.setDescriptor(2, address: status, length: 1, flags: TestDriver.write, table: table)
        driver.setDescriptor(0, address: table, length: 48, flags: TestDriver.indirect)
        driver.submit(head: 0)
        #expect(driver.waitForUsed(1))
        #expect(driver.load(UInt8.self, at: status) == 0)
        #expect(driver.bytes(at: data, count: 512) == (try disk.bytes(sector: 5, count: 1)))
    }

    /// 1200 data buffers in one indirect table: more than one preadv takes (IOV_MAX 1024).
    @Test func readsIntoMoreBuffersThanOneSystemCallTakes() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        let sectors = 1200
        let header = driver.allocate(16)
        driver.store(UInt32(0), at: header)
        driver.store(UInt64(100), at: header + 8)
        let data = driver.allocate(sectors * 512)
        let status = driver.allocate(1)
        let table = driver.allocate((sectors + 2) * 16)
        driver.setDescriptor(0, address: header, length: 16, flags: TestDriver.next, next: 1, table: table)
        for index in 0..<sectors {
            driver.setDescriptor(
                UInt16(index + 1), address: data + UInt64(index) * 512, length: 512,
                flags: TestDriver.next | TestDriver.write, next: UInt16(index + 2), table: table)
        }
        driver.setDescriptor(UInt16(sectors + 1), address: status, length: 1, flags: TestDriver.write, table: table)
        driver.setDescriptor(0, address: table, length: UInt32((sectors + 2) * 16), flags: TestDriver.indirect)
        driver.submit(head: 0)
        #expect(driver.waitForUsed(1))
        #expect(driver.load(UInt8.self, at: status) == 0)
        #expect(driver.usedElement(0).length == UInt32(sectors * 512 + 1))
        #expect(driver.bytes(at: data, count: sectors * 512) == (try disk.bytes(sector: 100, count: sectors)))
    }

    @Test func honoursTheDriversNoInterruptFlag() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        driver.store(UInt16(1), at: TestDriver.availableRing)
        _ = driver.takeInterrupts()
        #expect(driver.run(driver.blockRequest(type: 4, sector: 0, dataLength: 0, deviceWritesData: false)) == 0)
        usleep(20_000)
        #expect(driver.takeInterrupts() == 0)
    }

    @Test func processesManyRequestsAcrossTheRingWrap() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let driver = try TestDriver(device: device, memory: try MappedRegion(size: 8 << 20, flags: MAP_PRIVATE), queueSize: 4)
        driver.start()
        for round in 0..<10 {
            let request = driver.blockRequest(type: 0, sector: UInt64(round), dataLength: 512, deviceWritesData: true)
            #expect(driver.run(request) == 0)
            #expect(driver.bytes(at: request.data, count: 512) == (try disk.bytes(sector: round, count: 1)))
        }
        #expect(driver.usedIndex == 10)
    }

    @Test func namesAnImageItCannotOpen() {
        #expect(
            throws: DiskError(
                "disk image /nonexistent/disk.img cannot be opened read-write (No such file or directory): check the path and its permissions"
            )
        ) {
            try VirtioBlockDevice(path: "/nonexistent/disk.img", readOnly: false)
        }
    }

    @Test func deviceStateMustMatchOnRestore() throws {
        let device = try makeDevice()
        defer { device.stop() }
        let state = device.save()
        #expect(state == VirtioBlockDevice.State(capacitySectors: 2048, readOnly: false))
        try device.restore(state)
        #expect(throws: VirtioError.self) {
            try device.restore(VirtioBlockDevice.State(capacitySectors: 4096, readOnly: false))
        }
    }
}
