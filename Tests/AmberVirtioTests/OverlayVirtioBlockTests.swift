import AmberTestSupport
import Foundation
import Testing
import AmberDisk
@testable import AmberVirtio

/// The guest's view: virtio-blk requests served from an overlay, driven like Linux's driver does.
@Suite struct OverlayVirtioBlockTests {
    let fixture: OverlayTestFixture

    init() throws {
        fixture = try OverlayTestFixture()
    }

    @Test func guestRequestsGoThroughTheOverlay() throws {
        let written = (0..<1536).map { UInt8(truncatingIfNeeded: 255 - $0) }
        do {
            let disk = try fixture.createOverlay()
            let device = try VirtioBlockDevice(backend: disk, serial: "overlay-0")
            defer { device.stop() }
            #expect(device.capacitySectors == 2064)
            let driver = try TestDriver(device: device)
            #expect(driver.offeredFeatures & (1 << 5) == 0, "writable")
            driver.start()
            let write = driver.blockRequest(type: 1, sector: 127, dataLength: 1536, deviceWritesData: false)
            driver.copy(written, to: write.data)
            #expect(driver.run(write) == 0)
            #expect(driver.run(driver.blockRequest(type: 4, sector: 0, dataLength: 0, deviceWritesData: false)) == 0)
            let read = driver.blockRequest(type: 0, sector: 126, dataLength: 2560, deviceWritesData: true)
            #expect(driver.run(read) == 0)
            let expected =
                Array(fixture.baseContent[(126 * 512)..<(127 * 512)]) + written
                + Array(fixture.baseContent[(130 * 512)..<(131 * 512)])
            let readBack = driver.bytes(at: read.data, count: 2560)
            #expect(sameBytes(readBack, expected), "sectors 126-130 read back as the base around the written ones")
            #expect(
                driver.run(driver.blockRequest(type: 1, sector: 2064, dataLength: 512, deviceWritesData: false)) == 1,
                "beyond the end")
            device.pause()
            #expect(disk.takeDirtyChunks() == [0, 1])
            device.resume()
        }
        #expect(sameBytes(try fixture.baseOnDisk(), fixture.baseContent))
        let reopened = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
        #expect(try reopened.read(at: 127 * 512, count: 1536) == written)
    }

    @Test func readOnlyOverlayMakesAReadOnlyDevice() throws {
        _ = try fixture.createOverlay()
        let disk = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
        let device = try VirtioBlockDevice(backend: disk, serial: "overlay-ro")
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        #expect(driver.offeredFeatures & (1 << 5) != 0)
        driver.start()
        let write = driver.blockRequest(type: 1, sector: 0, dataLength: 512, deviceWritesData: false)
        #expect(driver.run(write) == 1)
        #expect(try disk.read(at: 0, count: 512) == Array(fixture.baseContent[0..<512]))
    }
}

@Suite struct OverlayDeviceLifecycleTests {
    let fixture: OverlayTestFixture

    init() throws {
        fixture = try OverlayTestFixture()
    }

    func mapBytes() throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: OverlayDisk.mapPath(forOverlay: fixture.overlayPath())))
    }

    /// Rollback in place: the paused device switches to a fresh overlay and the guest then reads the base.
    @Test func replacingTheBackendWhilePausedServesTheNewDisk() throws {
        let device = try VirtioBlockDevice(backend: try fixture.createOverlay("before"), serial: "disk")
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        let write = driver.blockRequest(type: 1, sector: 4, dataLength: 512, deviceWritesData: false)
        driver.copy([UInt8](repeating: 0xEE, count: 512), to: write.data)
        #expect(driver.run(write) == 0)
        device.pause()
        try device.replaceBackend(try fixture.createOverlay("after"))
        device.resume()
        let read = driver.blockRequest(type: 0, sector: 4, dataLength: 512, deviceWritesData: true)
        #expect(driver.run(read) == 0)
        #expect(driver.bytes(at: read.data, count: 512) == Array(fixture.baseContent[2048..<2560]))
        let small = fixture.directory + "/small.img"
        _ = FileManager.default.createFile(atPath: small, contents: Data(count: 4096))
        #expect(throws: VirtioError.self) { try device.replaceBackend(try RawFileBackend(path: small, readOnly: false)) }
    }

    /// Without FLUSH negotiated the driver expects write-through: each write commits the map at once.
    @Test func driverWithoutFlushGetsWriteThrough() throws {
        for negotiateFlush in [true, false] {
            try? OverlayDisk.remove(overlayPath: fixture.overlayPath())
            let device = try VirtioBlockDevice(backend: try fixture.createOverlay(), serial: "disk")
            defer { device.stop() }
            let driver = try TestDriver(device: device)
            let features = driver.offeredFeatures & ~(negotiateFlush ? 0 : UInt64(1) << 9)
            driver.start(features: features)
            let before = try mapBytes()
            let write = driver.blockRequest(type: 1, sector: 300, dataLength: 512, deviceWritesData: false)
            #expect(driver.run(write) == 0)
            #expect((try mapBytes() != before) == !negotiateFlush, "flush negotiated: \(negotiateFlush)")
        }
    }
}
