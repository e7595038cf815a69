import AmberControl
import AmberSystem

/// What a VM's next snapshot can count from, kept for the VM's lifetime: the snapshot it last was (the
/// next one's parent and its disks' baseline), the memory baseline and the guest pages written since.
/// Also the one place that admits one snapshot at a time.
final class SnapshotLedger: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`; a `ConditionLock`, not a Mutex, because the pause
    // limit's watcher waits on its condition (see `SnapshotSession`).
    let lock = ConditionLock()
    /// Tracks the guest memory pages written; nil where the kernel cannot (then every snapshot reads
    /// all the memory the guest touched).
    private var tracker: WriteTracker?
    private var changedPages: PageSet
    /// A recorded snapshot whose memory the guest's equals outside `changedPages`: the last memory
    /// snapshot recorded, or the one the VM was restored from (its memory before the guest ran).
    private var memoryBaseline: String?
    /// The snapshot this VM last was: the last one recorded, or the one it was restored from. Its disk
    /// manifests match the disks apart from the chunks their overlays report changed since. Nil until
    /// one is recorded (a booted VM's first snapshot reads its disks whole).
    private var lastRecorded: String?
    /// The snapshot in progress, from its admission until it is finished.
    private var turn: Turn?
    private var turnsTaken = 0

    /// One snapshot's hold on the VM.
    private struct Turn {
        let number: Int
        let client: Int32
        let since: Double
        /// Until the snapshot releases or ends its pause, or the pause limit abandons it.
        var holdsPause = true
        /// Why the snapshot was abandoned, once the pause limit passed.
        var abandonment: String?
    }

    /// The most runs of written pages a snapshot is told about (see `takeMemoryChanges`).
    static let maximumChangedRuns = 16_384

    /// - restoredFrom: the snapshot the VM was restored from (nil: booted).
    init(memory: GuestRAM, restoredFrom: String?, log: (String) -> Void) {
        lastRecorded = restoredFrom
        changedPages = PageSet(pageCount: Int(memory.size) / WriteTracker.pageSize)
        do {
            tracker = try WriteTracker(base: memory.mapping.base, size: memory.mapping.size)
            memoryBaseline = restoredFrom
        } catch {
            log("snapshots read all the memory the guest touched: \(error)")
        }
    }

    /// Admits one snapshot by process `client`, which holds the VM paused from now on, or refuses:
    /// another one is in progress. Returns the snapshot's turn.
    func admit(client: Int32, vm: String) throws -> Int {
        try lock.withLock {
            guard turn == nil else {
                throw ControlRefusal(.snapshotInProgress, "a snapshot of VM \(vm) is already being taken: wait for it to finish")
            }
            turnsTaken += 1
            turn = Turn(number: turnsTaken, client: client, since: MonotonicClock.now())
            return turnsTaken
        }
    }

    /// Who holds the VM paused for a snapshot, and since when.
    var pauseHolder: (client: Int32, since: Double)? {
        lock.withLock { turn.flatMap { $0.holdsPause ? ($0.client, $0.since) : nil } }
    }

    /// Ends snapshot `number`'s pause (without resuming the VM); whether it still held it. Throws
    /// when the pause limit abandoned the snapshot.
    func endPause(_ number: Int) throws -> Bool {
        try lock.withLock {
            guard var current = turn, current.number == number else { return false }
            if let abandonment = current.abandonment { throw ControlRefusal(.snapshotAbandoned, abandonment) }
            defer { lock.broadcast() }
            let held = current.holdsPause
            current.holdsPause = false
            turn = current
            return held
        }
    }

    /// Waits until snapshot `number` ends its pause or `limit` seconds pass; then abandons it, saying
    /// `why`, and returns true.
    func abandonUnlessPauseEnds(_ number: Int, within limit: Double, why: (Int32) -> String) -> Bool {
        lock.withLock {
            let ended = lock.wait(until: { turn?.number != number || turn?.holdsPause != true }, timeout: limit)
            guard !ended, var current = turn, current.number == number, current.holdsPause else { return false }
            current.holdsPause = false
            current.abandonment = why(current.client)
            turn = current
            return true
        }
    }

    var parent: String? { lock.withLock { lastRecorded } }

    /// The guest memory pages written since the memory baseline, taken (the next snapshot counts from
    /// this instant); nil when there is no baseline or writes are not tracked. Call it with the VM
    /// paused, before the memory holder forks.
    func takeMemoryChanges(log: (String) -> Void) -> MemoryChanges? {
        lock.withLock {
            guard let tracker else { return nil }
            do {
                for pages in try tracker.takeWrittenPages() { changedPages.insert(pages) }
            } catch {
                log("write tracking stopped: \(error)")
                self.tracker = nil
                memoryBaseline = nil
                return nil
            }
            let taken = changedPages.runs
            changedPages = PageSet(pageCount: changedPages.pageCount)
            // Writes scattered over more runs than this cost more to send (JSON, while paused) than
            // reading the memory saves: the snapshot then reads it all, and so does the next one
            // unless this one is recorded (the taken pages cannot be handed back).
            guard taken.count <= Self.maximumChangedRuns else {
                memoryBaseline = nil
                return nil
            }
            return memoryBaseline.map { MemoryChanges(baseline: $0, pages: taken) }
        }
    }

    /// Ends snapshot `number`'s turn. Recorded as `id` (and not abandoned): the next snapshot counts
    /// from it; otherwise the pages it took count for the next snapshot again.
    func finish(_ number: Int, recordedAs id: String?, heldMemory: Bool, takenPages: [PageRun]) -> Bool {
        lock.withLock {
            guard let current = turn, current.number == number else { return false }
            defer { turn = nil; lock.broadcast() }
            guard let id, current.abandonment == nil else {
                changedPages.insert(takenPages)
                return false
            }
            lastRecorded = id
            if heldMemory, tracker != nil { memoryBaseline = id }
            return true
        }
    }
}
