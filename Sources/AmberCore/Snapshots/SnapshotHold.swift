import AmberControl

/// amber's side of one snapshot: its lifetime is the VM's snapshot pause and amber-vmm's hold on the
/// VM's memory. Steps go in `SnapshotStep`'s order: `release` (the guest runs on; the held memory
/// stays), `end` (amber-vmm lets the memory go), `commit` (the snapshot was recorded). Closing it
/// early, or dying, ends the snapshot where it is: amber-vmm resumes the VM, lets go of the memory and
/// counts the snapshot as not recorded.
final class SnapshotHold {
    let capture: SnapshotCapture
    private let client: ControlClient
    private let connection: UnixSocketConnection
    private var step = SnapshotStep.begin
    /// How long the snapshot held the guest paused, as amber-vmm measured it; 0 until `release` or `end`.
    private(set) var pauseMicroseconds: Int64 = 0

    init(client: ControlClient, connection: UnixSocketConnection, capture: SnapshotCapture) {
        self.client = client
        self.connection = connection
        self.capture = capture
    }

    deinit {
        connection.close()
    }

    /// The guest runs on (unless it was paused before) while its memory stays held.
    func release() throws {
        guard case .snapshotReleased(let micros) = try take(.release, .snapshotRelease) else { return }
        pauseMicroseconds = micros
    }

    /// amber-vmm lets go of the held memory and resumes the VM if `release` did not.
    func end() throws {
        guard case .snapshotEnded(let micros) = try take(.end, .snapshotEnd) else { return }
        pauseMicroseconds = micros
    }

    /// After `end`: the snapshot was recorded as `id`; its disks' and memory's changes count from it.
    func commit(as id: String) throws {
        _ = try take(.committed, .snapshotCommitted(id: id))
    }

    /// Ends the hold now (also what the end of its lifetime does).
    func close() {
        connection.close()
    }

    private func take(_ next: SnapshotStep, _ request: ControlRequest) throws -> ControlReply {
        precondition(next.follows(step), "snapshot step \(next) after \(step)")
        step = next
        let reply = try client.exchange(request, on: connection)
        let expected: Bool
        switch (request, reply) {
        case (.snapshotRelease, .snapshotReleased), (.snapshotEnd, .snapshotEnded), (.snapshotCommitted, .snapshotCommitted):
            expected = true
        default: expected = false
        }
        guard expected else { throw client.unexpected(reply, answering: request) }
        return reply
    }
}
