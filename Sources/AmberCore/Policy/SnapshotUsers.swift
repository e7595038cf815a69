import AmberVMM
import Foundation

/// Which VMs run from which snapshot: a rolled-back or cloned VM's `config.json` names the snapshot it continues
/// from (`restore.snapshotID`). The snapshot stays in use, and is never pruned, for as long as that VM's directory
/// exists, running or not: the VM can be started again from it.
public enum SnapshotUsers {
    /// Snapshot id -> the VMs using it, e.g. `["VM web-clone1"]`.
    public static func read(home: AmberHome) -> [String: [String]] {
        var users: [String: [String]] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: home.vmsDirectory.path)) ?? []
        for name in names.sorted() {
            guard let snapshot = home.vm(name).readConfiguration()?.restore?.snapshotID else { continue }
            users[snapshot, default: []].append("VM \(name)")
        }
        return users
    }
}
