import AmberMachineState
import AmberSystem
import Foundation
import Testing
@testable import AmberVirtio

@Suite struct PauseAndRestoreTests {
    let disk: TestDiskImage

    init() throws {
        disk = try TestDiskImage()
    }

    @Test func pausedDeviceServesNothingUntilResumed() throws {
        let device = try VirtioBlockDevice(path: disk.path, readOnly: false)
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        device.pause()
        let request = driver.blockRequest(type: 0, sector: 7, dataLength: 512, deviceWritesData: true)
        driver.submit(head: request.head)
        usleep(50_000)
        #expect(driver.usedIndex == 0)
        device.resume()
        #expect(driver.waitForUsed(1))
        #expect(driver.load(UInt8.self, at: request.status) == 0)
    }

    /// Pausing while the guest keeps the ring full: when pause returns, the used index stays put.
    @Test func pauseReturnsWithNothingInFlight() throws {
        let device = try VirtioBlockDevice(path: disk.path, readOnly: false)
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        driver.start()
        for sector in 0..<100 {
            let request = driver.blockRequest(type: 1, sector: UInt64(sector), dataLength: 512, deviceWritesData: false)
            driver.submit(head: request.head, notify: sector % 10 == 9)
        }
        device.pause()
        let used = driver.usedIndex
        usleep(20_000)
        #expect(driver.usedIndex == used)
        device.resume()
        #expect(driver.waitForUsed(100))
    }

    /// A snapshot's view: pause, save, restore onto a fresh device and transport over the same memory,
    /// and the queue carries on where it stopped.
    @Test func savedTransportStateResumesTheQueueElsewhere() throws {
        let first = try VirtioBlockDevice(path: disk.path, readOnly: false)
        let driver = try TestDriver(device: first)
        driver.start()
        for sector in 0..<3 {
            #expect(driver.run(driver.blockRequest(type: 0, sector: UInt64(sector), dataLength: 512, deviceWritesData: true)) == 0)
        }
        first.pause()
        let state = driver.transport.save()
        first.stop()
        #expect(state.queues[0].nextAvailable == 3 && state.queues[0].nextUsed == 3)
        #expect(state.status & VirtioStatus.driverOK != 0)
        let decoded = try JSONDecoder().decode(VirtioMMIOTransport.State.self, from: JSONEncoder().encode(state))
        #expect(decoded == state)

        let second = try VirtioBlockDevice(path: disk.path, readOnly: false)
        defer { second.stop() }
        second.pause()
        let irqfd = try EventFD(nonBlocking: true)
        let transport = VirtioMMIOTransport(device: second, memory: driver.memory, interrupt: VirtioInterrupt(irqfd: irqfd))
        try transport.restore(decoded)
        #expect(transport.save() == state)
        second.resume()
        #expect(transport.read(offset: VirtioMMIORegister.status, size: 4) == UInt64(state.status))
        let request = driver.blockRequest(type: 0, sector: 9, dataLength: 512, deviceWritesData: true)
        driver.submit(head: request.head, notify: false)
        transport.write(offset: VirtioMMIORegister.queueNotify, size: 4, value: 0)
        #expect(driver.waitForUsed(4))
        #expect(driver.usedElement(3).id == UInt32(request.head))
        #expect(driver.bytes(at: request.data, count: 512) == (try disk.bytes(sector: 9, count: 1)))
        #expect(driver.waitUntil { ((try? irqfd.wait()) ?? 0) > 0 })
    }

    @Test func restoreRefusesADeviceWithOtherQueues() throws {
        let device = try VirtioBlockDevice(path: disk.path, readOnly: false)
        defer { device.stop() }
        let driver = try TestDriver(device: device)
        var state = driver.transport.save()
        state.queues.append(state.queues[0])
        #expect(throws: VirtioError.self) { try driver.transport.restore(state) }
    }
}
