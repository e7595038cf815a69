#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A paused VM's snapshot material as `snapshotBegin` hands it out. Untrusted on amber's side (a guest
/// may have taken amber-vmm over): `UntrustedCapture` checks it before any path in it is opened.
public struct SnapshotCapture: Codable, Sendable, Equatable {
    /// The guest's memory size (all of it, also for a disk-only snapshot).
    public var memoryBytes: UInt64
    /// The encoded `MachineState` (base64 in JSON).
    public var machineState: Data
    /// True when the VM was already paused by `amber pause`: the snapshot then leaves it paused.
    public var wasPaused: Bool
    /// Each disk in attachment order, flushed: read them before `snapshotRelease`.
    public var disks: [DiskCapture]
    /// The snapshot the VM's state descends from: the last one recorded of this run, or the one it
    /// was rolled back or cloned from; nil for a VM booted since its last snapshot.
    public var parent: String?
    /// The memory held as it was at `snapshotBegin`; nil for a disk-only snapshot.
    public var memory: HeldMemory?

    public init(
        memoryBytes: UInt64, machineState: Data, wasPaused: Bool, disks: [DiskCapture], parent: String? = nil,
        memory: HeldMemory? = nil
    ) {
        self.memoryBytes = memoryBytes
        self.machineState = machineState
        self.wasPaused = wasPaused
        self.disks = disks
        self.parent = parent
        self.memory = memory
    }
}

/// Guest memory as a child of amber-vmm holds it until `snapshotEnd`.
public struct HeldMemory: Codable, Sendable, Equatable {
    /// `/proc/<pid>/mem` of the holding process; guest memory is the capture's `memoryBytes` at `address` there.
    public var path: String
    public var address: UInt64
    /// Which pages the guest left as they came; nil when amber-vmm cannot say (then all are read).
    public var untouched: UntouchedPages?
    /// The pages written since a recorded snapshot; nil when amber-vmm does not know one.
    public var changes: MemoryChanges?

    public init(path: String, address: UInt64, untouched: UntouchedPages? = nil, changes: MemoryChanges? = nil) {
        self.path = path
        self.address = address
        self.untouched = untouched
        self.changes = changes
    }
}

/// Pages the guest left as they came: never mapped, or still a page of the backing file.
public struct UntouchedPages: Codable, Sendable, Equatable {
    /// `/proc/<pid>/pagemap` of the holding process, which tells those pages apart.
    public var pagemapPath: String
    /// What they hold: nil: zeros (a booted VM's anonymous memory); else that snapshot's memory (a
    /// restored VM maps it, materialized, copy-on-write).
    public var backing: String?

    public init(pagemapPath: String, backing: String? = nil) {
        self.pagemapPath = pagemapPath
        self.backing = backing
    }
}

/// The guest's memory equals snapshot `baseline`'s outside `pages` (amber-vmm tracks the pages written).
public struct MemoryChanges: Codable, Sendable, Equatable {
    public var baseline: String
    /// Runs of pages written since `baseline`, ascending.
    public var pages: [PageRun]

    public init(baseline: String, pages: [PageRun]) {
        self.baseline = baseline
        self.pages = pages
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
