/// A virtio device behind a transport. The transport owns the registers and the driver handshake; the
/// device offers features and configuration space and serves its queues once the driver is ready.
public protocol VirtioDevice: AnyObject, Sendable {
    /// The virtio device id (2 = block).
    var deviceID: UInt32 { get }
    /// Device-specific feature bits; the transport adds VERSION_1 and INDIRECT_DESC.
    var deviceFeatures: UInt64 { get }
    /// The largest size of each queue; its count is the number of queues.
    var queueMaximumSizes: [UInt16] { get }

    /// Reads `size` (1-8) bytes of configuration space at `offset`, little-endian; 0 beyond its end.
    func readConfiguration(offset: Int, size: Int) -> UInt64
    func writeConfiguration(offset: Int, size: Int, value: UInt64)

    /// The driver set DRIVER_OK: serve `queues` (nil for a queue it left unready) and interrupt through
    /// `interrupt`.
    func activate(queues: [SplitVirtqueue?], negotiatedFeatures: UInt64, interrupt: VirtioInterrupt)
    /// The driver reset the device: stop using the queues. Returns once no request is in flight.
    func reset()
    /// The driver wrote `queue` to the notify register (when no ioeventfd took the write first).
    func notify(queue: UInt32)

    /// Stops processing; returns once no request is in flight. Notifications that arrive meanwhile
    /// are served after `resume()`.
    func pause()
    func resume()
}
