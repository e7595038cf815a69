/// What can go wrong taking or listing snapshots (VM lookup errors are `VMLifecycleError`).
public enum SnapshotError: Error, CustomStringConvertible, Equatable {
    case noConfiguration(vm: String)
    case tooManyDisks(vm: String, count: Int)
    case memoryUnreadable(vm: String, reason: String)
    case unknownSnapshot(id: String)
    case protected(id: String)

    public var description: String {
        switch self {
        case .noConfiguration(let vm):
            return "VM \(vm) has no readable config.json: restart it with `amber run` before snapshotting it"
        case .tooManyDisks(let vm, let count):
            return "VM \(vm) has \(count) disks; snapshots of VMs with more than one disk are not supported yet"
        case .memoryUnreadable(let vm, let reason):
            return "cannot read the memory of VM \(vm) (\(reason)): run amber as the same user as its amber-vmm"
        case .unknownSnapshot(let id):
            return "no snapshot with id \(id) (see `amber snapshots`)"
        case .protected(let id):
            return "snapshot \(id) is protected: run `amber snapshot unprotect \(id)` first"
        }
    }
}
