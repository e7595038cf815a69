/// The steps of one snapshot, in the only order they happen, all on the connection that began it:
/// - begin: the VM pauses, its state is captured and (for a memory snapshot) its memory held as it is;
/// - release: the guest runs on (the client has read what it must read paused: the disks' changes);
///   skipping it is allowed, `end` then resumes the guest;
/// - end: the held memory is let go (the client has read it);
/// - committed: the client recorded the snapshot; the disks' and memory's changes now count from it.
/// A connection that closes early ends the snapshot where it is, as not recorded: the VM resumes, the
/// memory is let go and its changes count for the next snapshot. amber-vmm's `SnapshotSession` and
/// amber's `SnapshotHold` both follow this order through `follows(_:)`.
public enum SnapshotStep: Int, Comparable, Sendable, CaseIterable {
    case begin, release, end, committed

    /// Whether this step may come right after `previous`.
    public func follows(_ previous: SnapshotStep) -> Bool {
        switch self {
        case .begin: false
        case .release: previous == .begin
        case .end: previous == .begin || previous == .release
        case .committed: previous == .end
        }
    }

    public static func < (left: SnapshotStep, right: SnapshotStep) -> Bool { left.rawValue < right.rawValue }
}
