import AmberSystem
import Foundation
import Glibc

/// A rollback whose `amber` was killed between setting the VM's files aside and discarding them leaves
/// `*.replaced` files and a paused amber-vmm behind. Whoever next holds the VM's rollback lock finishes it:
/// if the restored VM's amber-vmm owns the VM, the set-aside VM is discarded (the rollback happened);
/// otherwise whatever the replacement left goes, the set-aside files are renamed back, and the set-aside
/// amber-vmm, if alive, is resumed (the rollback did not happen).
enum InterruptedRollback {
    static func finish(_ directory: VMDirectory) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.url.path)) ?? []
        let aside = names.filter { $0.hasSuffix(VMSetAside.suffix) }.map { directory.url.appendingPathComponent($0).path }
        guard !aside.isEmpty else { return }
        let asideConfig = directory.configFile.path + VMSetAside.suffix
        if FileLock.isHeld(at: directory.configFile.path) {
            VMSetAside.discard(
                asideFiles: aside, name: directory.name, asideSocket: directory.controlSocket.path + VMSetAside.suffix,
                asideConfig: asideConfig)
            return
        }
        for path in aside {
            let original = String(path.dropLast(VMSetAside.suffix.count))
            unlink(original)
            rename(path, original)
        }
        if FileLock.isHeld(at: directory.configFile.path) {
            _ = try? ControlClient(directory).send(.resume)
        }
    }
}
