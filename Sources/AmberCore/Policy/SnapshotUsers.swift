import Foundation

/// Which VMs run from which snapshot: a rolled-back or cloned VM's `config.json` names the snapshot it continues
/// from (`restore.snapshotID`). The snapshot stays in use, and is never pruned, for as long as that VM's directory
/// exists, running or not: the VM can be started again from it.
public enum SnapshotUsers {
    /// Snapshot id -> the VMs using it, e.g. `["VM web-clone1"]`.
    public static func read(home: AmberHome) -> [String: [String]] {
        var users: [String: [String]] = [:]
        let directory = home.vmsDirectory.path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let decoder = JSONDecoder()
        for name in names.sorted() {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)/config.json"),
                let snapshot = (try? decoder.decode(RestoreReference.self, from: data))?.restore?.snapshotID
            else { continue }
            users[snapshot, default: []].append("VM \(name)")
        }
        return users
    }

    /// Only the field that matters here: a configuration otherwise unreadable still keeps its snapshot in use.
    private struct RestoreReference: Decodable {
        struct Source: Decodable { let snapshotID: String }
        let restore: Source?
    }
}
