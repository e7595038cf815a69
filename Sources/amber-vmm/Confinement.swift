import AmberSystem
import Glibc

/// amber-vmm's jail, entered once the VM is built (KVM, memory, disks, console, control socket: every file
/// it needs is open) and before the guest runs its first instruction: whatever a guest reaches through a
/// device model then finds a process with no capabilities, an unprivileged uid of its own, no_new_privs and
/// an empty root (no host files, no other VM's directory). Started by root, amber-vmm gets the uid
/// `uidBase + 24 bits of its VM directory's hash`; started by another user it keeps that user's uid and gets
/// no_new_privs only (chroot and a uid switch need privileges it does not have).
enum Confinement {
    /// Far above login and system users (and below 2^31, which some tools treat as negative).
    static let uidBase: UInt32 = 0x5A00_0000

    static func uid(forVMDirectory directory: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in directory.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return uidBase | (hash & 0x00FF_FFFF)
    }

    /// `<VM directory>/jail`: empty, root's, mode 0100 (nobody but root may even list it), made on first use.
    static func enter(vmDirectory: String) throws -> String {
        guard ProcessJail.canChangeIdentity else {
            try ProcessJail.enter(root: "/", uid: getuid(), gid: getgid())
            return "no_new_privs (not started by root: uid \(getuid()) kept, no chroot)"
        }
        let root = vmDirectory + "/jail"
        if mkdir(root, 0o100) != 0 && errno != EEXIST { throw SystemError("mkdir \(root)") }
        var info = stat()
        guard lstat(root, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == 0, info.st_mode & 0o222 == 0 else {
            throw SystemError("jail directory \(root) is not an empty directory only root may write: remove it", errno: EPERM)
        }
        let uid = uid(forVMDirectory: vmDirectory)
        try ProcessJail.enter(root: root, uid: uid, gid: uid)
        return "uid and gid \(uid), no capabilities, no_new_privs, root \(root)"
    }
}
