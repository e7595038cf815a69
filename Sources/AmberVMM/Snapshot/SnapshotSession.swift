import AmberControl
import AmberDisk
import AmberSystem
import AmberVirtio
import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One snapshot of a running VM as amber-vmm takes it, through `SnapshotStep`'s order: `begin` pauses
/// the VM, captures its state and disks and forks a process that holds its memory; `release` lets the
/// guest run on; `end` lets the held memory go; `finish` says whether it was recorded. It owns the
/// held memory, whether the VM was paused before, and the written pages it took from the ledger, and
/// measures the guest-visible pause. A client that stalls cannot hold the guest paused: once the
/// VM's pause limit passes, the VM resumes, the held memory goes and the snapshot is abandoned.
public final class SnapshotSession: Sendable {
    public let capture: SnapshotCapture
    private let subject: SnapshotSubject
    private let ledger: SnapshotLedger
    private let turn: Int
    /// When the pause began (before the vCPUs were stopped), for the pause each step reports.
    private let pauseBegan: Double
    private let takenPages: [PageRun]
    private let holder: Mutex<MemoryHolder?>
    /// The last step taken; `close` ends the session whatever step it reached.
    private let step = Mutex(SnapshotStep.begin)
    /// How long the snapshot held the guest paused, once it no longer does (microseconds).
    private let pause = Mutex<Int64?>(nil)

    /// Pauses the VM (unless `amber pause` already did) for process `client`, captures its state and
    /// disks and, with `memory`, holds its memory as it is now. Refused while another snapshot runs.
    init(memory: Bool, client: Int32, subject: SnapshotSubject, ledger: SnapshotLedger) throws {
        let machine = subject.machine
        guard machine.memory.isPrivate else {
            throw ControlRefusal(.unsupported, "VM \(subject.name) maps its memory file shared: a snapshot cannot hold that memory")
        }
        pauseBegan = MonotonicClock.now()
        turn = try ledger.admit(client: client, vm: subject.name)
        self.subject = subject
        self.ledger = ledger
        let wasPaused = machine.currentState == .paused
        var changes: MemoryChanges?
        do {
            if !wasPaused { try machine.pause() }
            do {
                let state = try machine.captureState(virtioDevices: subject.virtioDevices).encoded()
                let disks = try Self.captureDisks(subject, parent: ledger.parent)
                changes = memory ? ledger.takeMemoryChanges(log: { subject.log("VM \(subject.name): \($0)") }) : nil
                // The fork copies page tables only; from here on guest writes get new pages and the
                // holder keeps the old ones, so the guest can run while the snapshot reads them.
                let held = memory ? try MemoryHolder() : nil
                holder = Mutex(held)
                takenPages = changes?.pages ?? []
                capture = SnapshotCapture(
                    memoryBytes: machine.memory.size, machineState: Data(state), wasPaused: wasPaused,
                    disks: disks, parent: ledger.parent,
                    memory: held.map { Self.heldMemory($0, subject: subject, changes: changes) })
                let written = changes.map { "; \($0.pages.reduce(0) { $0 + $1.count }) pages written since snapshot \($0.baseline)" } ?? ""
                subject.log(
                    "VM \(subject.name) paused for a snapshot" + (held.map { "; process \($0.pid) holds its memory" } ?? "") + written)
            } catch {
                if !wasPaused { try? machine.resume() }
                throw error
            }
        } catch {
            _ = ledger.finish(turn, recordedAs: nil, heldMemory: false, takenPages: changes?.pages ?? [])
            throw error
        }
        // A VM paused by `amber pause` is not held by the snapshot: nothing to bound.
        if !wasPaused {
            try? NativeThread.detached(name: "snapshot-limit") { [self] in enforcePauseLimit() }
        }
    }

    /// Where the held memory is and what amber-vmm knows of it: untouched pages are zeros, or the
    /// restored snapshot's memory file's.
    private static func heldMemory(_ holder: MemoryHolder, subject: SnapshotSubject, changes: MemoryChanges?) -> HeldMemory {
        let memory = subject.machine.memory
        let backing = memory.file == nil ? nil : subject.restoredFrom
        let backingKnown = memory.file == nil || backing != nil
        return HeldMemory(
            path: holder.memoryPath, address: UInt64(UInt(bitPattern: memory.mapping.base)),
            untouched: backingKnown ? UntouchedPages(pagemapPath: holder.pagemapPath, backing: backing) : nil,
            changes: changes)
    }

    /// Flushes each disk (the paused devices have no request in flight) and takes the chunks its
    /// overlay saw written since the last snapshot.
    private static func captureDisks(_ subject: SnapshotSubject, parent: String?) throws -> [DiskCapture] {
        try subject.disks.map { configured, device in
            try device.backend.flush()
            guard let overlay = device.backend as? OverlayDisk else {
                // A read-only image never changes; a writable one without overlay is read whole.
                let unchanged = configured.readOnly && parent != nil
                return DiskCapture(
                    basePath: configured.path, overlayPath: nil, baseline: unchanged ? parent : nil,
                    changedChunks: [], chunkSize: OverlayDisk.defaultChunkSize)
            }
            return DiskCapture(
                basePath: overlay.basePath, overlayPath: overlay.overlayPath, baseline: parent,
                changedChunks: overlay.takeDirtyChunks(), chunkSize: overlay.chunkSize)
        }
    }

    /// Takes `next` if it follows the last step taken; refused otherwise.
    private func advance(to next: SnapshotStep) throws {
        try step.withLock { last in
            guard next.follows(last) else {
                throw ControlRefusal(
                    .outOfOrder,
                    "snapshot step \(next) cannot follow \(last): a snapshot goes begin, release (optional), end, committed, on the connection that began it"
                )
            }
            last = next
        }
    }

    /// Lets the guest run on (unless it was paused before the snapshot); the held memory stays.
    /// Returns how long the snapshot held the guest paused, in microseconds.
    public func release() throws -> Int64 {
        try advance(to: .release)
        try resumeIfHeld(saying: "runs on while the snapshot reads its held memory")
        return pauseMicroseconds()
    }

    /// Lets go of the held memory and resumes the VM if `release` did not. Returns how long the
    /// snapshot held the guest paused, in microseconds.
    public func end() throws -> Int64 {
        try advance(to: .end)
        holder.withLock {
            $0?.end(); $0 = nil
        }
        try resumeIfHeld(saying: "resumed after a snapshot")
        return pauseMicroseconds()
    }

    /// The snapshot was recorded as `id`: the disks' and memory's changes now count from it.
    public func commit(as id: String) throws {
        try advance(to: .committed)
        finish(recordedAs: id)
    }

    /// Ends the session where it is, as not recorded unless `commit` ran: resumes the VM and lets go of
    /// the memory if that has not happened, and hands the disks' and memory's changes back to the next
    /// snapshot. Call it once the connection that began the snapshot is done.
    public func close() {
        let reached = step.withLock { $0 }
        if reached < .end {
            do { _ = try end() } catch { subject.log("VM \(subject.name): ending an unfinished snapshot: \(error)") }
        }
        if reached != .committed { finish(recordedAs: nil) }
    }

    private func finish(recordedAs id: String?) {
        let recorded = ledger.finish(turn, recordedAs: id, heldMemory: capture.memory != nil, takenPages: takenPages)
        guard !recorded else { return }
        for (disk, (_, device)) in zip(capture.disks, subject.disks) {
            (device.backend as? OverlayDisk)?.markDirty(disk.changedChunks)
        }
        subject.log("VM \(subject.name): the snapshot was not recorded; its disk changes count for the next one")
    }

    private func resumeIfHeld(saying what: String) throws {
        guard try ledger.endPause(turn), !capture.wasPaused else { return }
        try subject.machine.resume()
        subject.log("VM \(subject.name) \(what)")
    }

    /// The guest-visible pause: from before the vCPUs stopped until the first step that ended it resumed them.
    private func pauseMicroseconds() -> Int64 {
        pause.withLock { pause in
            let measured = pause ?? Int64((MonotonicClock.now() - pauseBegan) * 1_000_000)
            pause = measured
            return measured
        }
    }

    private func enforcePauseLimit() {
        let limit = subject.pauseLimit, name = subject.name
        let abandoned = ledger.abandonUnlessPauseEnds(turn, within: limit) { client in
            "the snapshot kept VM \(name) paused longer than its \(VMMHost.tenths(limit)) s limit (process \(client) did not release it), so the VM was resumed and the snapshot abandoned: take it again"
        }
        guard abandoned else { return }
        holder.withLock {
            $0?.end(); $0 = nil
        }
        try? subject.machine.resume()
        subject.log("VM \(name): a snapshot kept the guest paused for \(VMMHost.tenths(limit)) s: resumed, the snapshot is abandoned")
    }
}
