import AmberDisk
import AmberMachineState
import AmberSystem
import Glibc

/// A virtio block device (virtio 1.x, section 5.2) over a `BlockBackend`: a raw disk image or a
/// copy-on-write `OverlayDisk`. Requests run on the device's own thread, woken through `notifyEvent`;
/// guest buffers are read and written in place.
///
/// The VMM registers `notifyEvent` as a KVM ioeventfd at the window's base + 0x50 and gives the transport
/// a `VirtioInterrupt(irqfd:)` registered with KVM_IRQFD on the device's GSI. Call `stop()` before
/// dropping the device.
/// Unchecked: the queue, interrupt and backend change only while the worker is idle (`DeviceWorker.whileIdle`
/// orders them with the worker's reads through its lock), so the request path takes no lock of its own.
public final class VirtioBlockDevice: VirtioDevice, @unchecked Sendable {
    public static let sectorSize: UInt64 = 512
    public static let queueSize: UInt16 = 256
    public static let serialLength = 20

    static let segmentMaximumFeature: UInt64 = 1 << 2
    static let readOnlyFeature: UInt64 = 1 << 5
    static let flushFeature: UInt64 = 1 << 9

    public let deviceID: UInt32 = 2
    public let readOnly: Bool
    public let capacitySectors: UInt64
    public var queueMaximumSizes: [UInt16] { [Self.queueSize] }

    /// Where the bytes live; the snapshot code reaches the overlay's dirty chunks through it.
    public private(set) var backend: BlockBackend
    private let serial: [UInt8]
    private let configuration: [UInt8]
    private var worker: DeviceWorker!
    // Changed only while the worker is idle (DeviceWorker.whileIdle), read by the worker.
    private var queue: SplitVirtqueue?
    private var interrupt: VirtioInterrupt?
    private var lastError: VirtioError?
    /// A driver that did not negotiate FLUSH expects a write-through disk (virtio 1.x, 5.2.6.2).
    private var writeThrough = false

    /// Opens the raw image at `path`; `serial` (what GET_ID returns, at most 20 bytes) defaults to the
    /// file's name.
    public convenience init(path: String, readOnly: Bool, serial: String? = nil) throws {
        try self.init(
            backend: try RawFileBackend(path: path, readOnly: readOnly),
            serial: serial ?? Self.fileName(of: path))
    }

    /// The last component of `path`, as URL's lastPathComponent gives it (without linking URL's parser).
    public static func fileName(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// Serves an already open raw image (a regular file or block device); `name` is how errors refer to it.
    public convenience init(image: FileDescriptor, name: String, readOnly: Bool, serial: String) throws {
        try self.init(backend: try RawFileBackend(image: image, name: name, readOnly: readOnly), serial: serial)
    }

    /// Serves `backend`, read-only when the backend is.
    public init(backend: BlockBackend, serial: String) throws {
        self.backend = backend
        readOnly = backend.readOnly
        capacitySectors = backend.size / Self.sectorSize
        self.serial = Array(serial.utf8.prefix(Self.serialLength))
        var configuration: [UInt8] = []
        Self.append(capacitySectors, to: &configuration)
        Self.append(UInt32(0), to: &configuration)
        Self.append(UInt32(Self.queueSize - 2), to: &configuration)
        self.configuration = configuration
        worker = try DeviceWorker(name: "virtio-blk", notifyEvent: try EventFD()) { [weak self] in self?.serveQueue() }
    }

    deinit {
        worker.stop()
    }

    /// Serves `backend` from now on (rollback in place: a fresh overlay over the snapshot's base). It must
    /// have the same size and mode; call while the device is paused so no request straddles the swap.
    public func replaceBackend(_ backend: BlockBackend) throws {
        guard backend.size / Self.sectorSize == capacitySectors, backend.readOnly == readOnly else {
            throw VirtioError(
                "replacement disk has \(backend.size / Self.sectorSize) sectors\(backend.readOnly ? " read-only" : ""), but the device has \(capacitySectors)\(readOnly ? " read-only" : ""): use a disk of the same size and mode"
            )
        }
        worker.whileIdle { self.backend = backend }
    }

    /// The eventfd that wakes the worker: register it as a KVM ioeventfd at base + 0x50.
    public var notifyEvent: EventFD { worker.notifyEvent }

    public var deviceFeatures: UInt64 {
        Self.segmentMaximumFeature | Self.flushFeature | (readOnly ? Self.readOnlyFeature : 0)
    }

    /// Why the device stopped serving its queue (the guest broke the virtio rules), until the next reset.
    public var guestError: VirtioError? {
        worker.whileIdle { lastError }
    }

    /// Has the device's worker thread confine itself (see `DeviceWorker.confine`) before its next request.
    public func confineWorker(_ install: @escaping () throws -> Void, failed: @escaping (Error) -> Void) {
        worker.confine(install, failed: failed)
    }

    /// Ends the worker thread; the device serves nothing afterwards.
    public func stop() {
        worker.stop()
    }

    public func readConfiguration(offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<size where offset + index < configuration.count {
            value |= UInt64(configuration[offset + index]) << (8 * UInt64(index))
        }
        return value
    }

    public func writeConfiguration(offset: Int, size: Int, value: UInt64) {}

    public func activate(queues: [SplitVirtqueue?], negotiatedFeatures: UInt64, interrupt: VirtioInterrupt) {
        worker.whileIdle {
            queue = queues.first ?? nil
            self.interrupt = interrupt
            lastError = nil
            writeThrough = negotiatedFeatures & Self.flushFeature == 0
        }
        worker.wake()
    }

    public func reset() {
        worker.whileIdle {
            queue = nil
            interrupt = nil
            lastError = nil
        }
    }

    public func notify(queue: UInt32) {
        worker.wake()
    }

    public func pause() {
        worker.pause()
    }

    public func resume() {
        worker.resume()
    }

    /// Runs on the worker: serves every available request, then interrupts once if the driver wants it.
    private func serveQueue() {
        guard let queue, let interrupt, lastError == nil else { return }
        var completed = false
        do {
            while !worker.pauseRequested, let chain = try queue.popAvailable() {
                let written = BlockRequest.execute(
                    chain, on: backend, capacitySectors: capacitySectors,
                    readOnly: readOnly, writeThrough: writeThrough, serial: serial)
                queue.addUsed(chain, writtenLength: written)
                completed = true
            }
        } catch let error as VirtioError {
            lastError = error
            interrupt.markNeedsReset()
        } catch {
            lastError = VirtioError("\(error)")
            interrupt.markNeedsReset()
        }
        if completed, queue.driverWantsInterrupt {
            interrupt.raise(VirtioInterrupt.usedBuffer)
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

extension VirtioBlockDevice {
    public typealias State = VirtioBlockDeviceState

    public func save() -> State {
        State(capacitySectors: capacitySectors, readOnly: readOnly)
    }

    /// Checks that this device can stand in for the saved one (same size and mode).
    public func restore(_ state: State) throws {
        guard state.capacitySectors == capacitySectors, state.readOnly == readOnly else {
            throw VirtioError(
                "disk has \(capacitySectors) sectors\(readOnly ? " read-only" : ""), but the saved device had \(state.capacitySectors)\(state.readOnly ? " read-only" : ""): restore onto the snapshot's disk"
            )
        }
    }
}
