#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The control protocol between the `amber` CLI (client) and amber-vmm (server): one JSON object per
/// line over the VM's Unix socket. The client sends one `ControlRequest`, the server answers with one
/// `ControlResponse`. After a successful `console` request the connection becomes a raw byte stream:
/// serial output flows to the client, bytes the client sends are typed into the serial port.
/// After a successful `snapshotBegin` the VM stays paused while the connection is open and a child
/// of amber-vmm holds its memory as it was at that instant: the client reads the disks, then sends
/// `snapshotRelease` and the guest runs on while the client reads the held memory; then it sends
/// `snapshotEnd` on the same connection (or just closes it, or dies) and amber-vmm lets go of the
/// held memory (and resumes the VM if it was never released). Once the snapshot is recorded, the client sends
/// `snapshotCommitted` with its id on the same connection: the disks' changed chunks now count from
/// that snapshot. A connection that ends without it hands the changed chunks back, so the next
/// snapshot reads them again. Fields added after the first version are optional, so messages of
/// either version decode.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        case status, pause, resume, stop, console, snapshotBegin, snapshotRelease, snapshotEnd, snapshotCommitted
    }

    public var op: Operation
    /// With `snapshotCommitted`: the id the catalog recorded the snapshot under.
    public var snapshotID: String?
    /// With `snapshotBegin`: false for a disk-only snapshot (no memory is held); nil means true.
    public var memory: Bool?

    public init(_ op: Operation, snapshotID: String? = nil, memory: Bool? = nil) {
        self.op = op
        self.snapshotID = snapshotID
        self.memory = memory
    }
}

public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    /// Set when `ok` is false: one line saying what went wrong and what to do.
    public var error: String?
    public var status: VMStatus?
    /// Answer to `snapshotBegin`.
    public var capture: SnapshotCapture?
    /// Answer to `snapshotRelease` and `snapshotEnd`: how long the guest was held paused for the snapshot.
    public var pauseMicroseconds: Int64?

    public init(ok: Bool, error: String? = nil, status: VMStatus? = nil, capture: SnapshotCapture? = nil,
                pauseMicroseconds: Int64? = nil) {
        self.ok = ok
        self.error = error
        self.status = status
        self.capture = capture
        self.pauseMicroseconds = pauseMicroseconds
    }
}

/// A paused VM's snapshot material as `snapshotBegin` hands it out.
public struct SnapshotCapture: Codable, Sendable, Equatable {
    /// `/proc/<pid>/mem` of the process holding guest memory as it was at `snapshotBegin`, and guest
    /// memory is the `memoryBytes` at `memoryOffset` there; pread it (not valid after `snapshotEnd`).
    /// Without `memoryOffset` (a disk-only snapshot): empty.
    public var memoryPath: String
    public var memoryOffset: UInt64?
    /// `/proc/<pid>/pagemap` of the holding process: it tells which pages the guest left as they came
    /// (never mapped, or still a page of the backing file), which hold what `memoryBacking` says.
    public var pagemapPath: String?
    /// What the pages the guest left as they came hold: nil: zeros (a booted VM's anonymous memory);
    /// else that snapshot's memory (a restored VM maps it, materialized, copy-on-write).
    public var memoryBacking: String?
    /// A recorded snapshot whose memory this guest's equals outside `changedPages` (amber-vmm tracks
    /// the pages written since); nil when it does not know one.
    public var memoryBaseline: String?
    /// With `memoryBaseline`: the runs of pages written since that snapshot, ascending.
    public var changedPages: [PageRun]?
    public var memoryBytes: UInt64
    /// The encoded `MachineState` (base64 in JSON).
    public var machineState: Data
    /// True when the VM was already paused by `amber pause`: `snapshotEnd` then leaves it paused.
    public var wasPaused: Bool
    /// Each disk in attachment order, flushed: read them before `snapshotRelease`.
    public var disks: [DiskCapture]?
    /// The snapshot the VM's state descends from: the last one recorded of this run, or the one it
    /// was rolled back or cloned from; nil for a VM booted since its last snapshot.
    public var parent: String?

    public init(memoryPath: String, memoryOffset: UInt64? = nil, pagemapPath: String? = nil, memoryBacking: String? = nil,
                memoryBaseline: String? = nil, changedPages: [PageRun]? = nil,
                memoryBytes: UInt64, machineState: Data, wasPaused: Bool, disks: [DiskCapture]? = nil, parent: String? = nil) {
        self.memoryPath = memoryPath
        self.memoryOffset = memoryOffset
        self.pagemapPath = pagemapPath
        self.memoryBacking = memoryBacking
        self.memoryBaseline = memoryBaseline
        self.changedPages = changedPages
        self.memoryBytes = memoryBytes
        self.machineState = machineState
        self.wasPaused = wasPaused
        self.disks = disks
        self.parent = parent
    }
}

/// `count` guest memory pages (4 KiB) from page `first`.
public struct PageRun: Codable, Sendable, Equatable {
    public var first: Int
    public var count: Int

    public init(first: Int, count: Int) {
        self.first = first
        self.count = count
    }
}

/// One disk of a paused VM and which of its chunks changed since the last recorded snapshot.
public struct DiskCapture: Codable, Sendable, Equatable {
    /// The image the guest's disk reads from where the overlay holds nothing (the whole disk when
    /// there is no overlay).
    public var basePath: String
    /// The VM's copy-on-write layer; open it read-only over `basePath`.
    public var overlayPath: String?
    /// The snapshot whose disk manifest holds every chunk not in `changedChunks`; nil: there is none
    /// and the whole disk must be read.
    public var baseline: String?
    /// Chunks (of `chunkSize` bytes) written since `baseline`, ascending.
    public var changedChunks: [Int]
    public var chunkSize: Int

    public init(basePath: String, overlayPath: String?, baseline: String?, changedChunks: [Int], chunkSize: Int) {
        self.basePath = basePath
        self.overlayPath = overlayPath
        self.baseline = baseline
        self.changedChunks = changedChunks
        self.chunkSize = chunkSize
    }
}

public struct VMStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case starting, running, paused, stopping
    }

    public var name: String
    public var pid: Int32
    public var state: State
    public var vcpus: Int
    public var memoryBytes: UInt64
    /// Seconds since amber-vmm started the guest.
    public var uptimeSeconds: Double
    /// Where guest RAM starts in amber-vmm's address space: debuggers and tests read and write it
    /// through `/proc/<pid>/mem` there (it is private memory, not a file).
    public var memoryAddress: UInt64?

    public init(name: String, pid: Int32, state: State, vcpus: Int, memoryBytes: UInt64, uptimeSeconds: Double,
                memoryAddress: UInt64? = nil) {
        self.name = name
        self.pid = pid
        self.state = state
        self.vcpus = vcpus
        self.memoryBytes = memoryBytes
        self.uptimeSeconds = uptimeSeconds
        self.memoryAddress = memoryAddress
    }
}
