/// What can go wrong taking or listing snapshots (VM lookup errors are `VMLifecycleError`).
public enum SnapshotError: Error, CustomStringConvertible, Equatable {
    case noConfiguration(vm: String)
    case tooManyDisks(vm: String, count: Int)
    case memoryUnreadable(vm: String, reason: String)
    case diskUnreadable(vm: String, reason: String)
    case unknownSnapshot(id: String)
    case untrustedCapture(vm: String, detail: String)
    case ambiguousSnapshot(prefix: String, matches: [String])
    case ambiguousLabel(label: String, matches: [String])
    case protected(id: String)
    case unusable(id: String, reason: String)
    case belongsToOtherVM(id: String, owner: String, requested: String)
    case noneAtOrBefore(vm: String, time: String)
    case noSnapshots(vm: String)
    /// The restored VM did not start; `putBackProblem` says what of the VM as it was could not be restored.
    case rollbackFailed(vm: String, id: String, reason: String, putBackProblem: String?)

    public var description: String {
        switch self {
        case .noConfiguration(let vm):
            return "VM \(vm) has no readable config.json: restart it with `amber run` before snapshotting it"
        case .tooManyDisks(let vm, let count):
            return "VM \(vm) has \(count) disks; snapshots of VMs with more than one disk are not supported yet"
        case .memoryUnreadable(let vm, let reason):
            return "cannot read the memory of VM \(vm) (\(reason)): run amber as the same user as its amber-vmm"
        case .diskUnreadable(let vm, let reason):
            return "cannot read the disk of VM \(vm) (\(reason))"
        case .unknownSnapshot(let id):
            return "no snapshot with id \(id) (see `amber snapshots`)"
        case .untrustedCapture(let vm, let detail):
            return
                "amber-vmm of VM \(vm) described its snapshot with \(detail), which is not the VM's own: the snapshot is refused (stop the VM and look at its vmm.log)"
        case .ambiguousSnapshot(let prefix, let matches):
            return
                "snapshot id \(prefix) is ambiguous: it starts \(matches.joined(separator: ", "))\(matches.count > 4 ? ", ..." : ""); give more of the id"
        case .ambiguousLabel(let label, let matches):
            return "label \(label) names \(matches.count) snapshots: \(matches.joined(separator: ", ")); give one of their ids"
        case .protected(let id):
            return "snapshot \(id) is protected: run `amber snapshot unprotect \(id)` first"
        case .unusable(let id, let reason):
            return "snapshot \(id) cannot be restored: \(reason)"
        case .rollbackFailed(let vm, let id, let reason, nil):
            return "rollback of VM \(vm) to snapshot \(id) failed, and VM \(vm) is back as it was: \(reason)"
        case .rollbackFailed(let vm, let id, let reason, let problem?):
            return
                "rollback of VM \(vm) to snapshot \(id) failed (\(reason)), and VM \(vm) could not be put back as it was (\(problem)): its files are in \(vm)'s directory with the suffix \(VMSetAside.suffix)"
        case .belongsToOtherVM(let id, let owner, let requested):
            return "snapshot \(id) is a snapshot of VM \(owner), not \(requested): roll \(owner) back, or `amber clone \(id)` to get a copy"
        case .noneAtOrBefore(let vm, let time):
            return "VM \(vm) has no snapshot taken at or before \(time) (see `amber snapshots \(vm)`)"
        case .noSnapshots(let vm):
            return "VM \(vm) has no snapshots (take one with `amber snapshot \(vm)`)"
        }
    }
}
