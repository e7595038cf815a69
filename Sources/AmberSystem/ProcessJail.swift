import CSystem
import Glibc

/// Confines the calling process for the rest of its life (see `csystem_enter_jail`): with privileges, an
/// empty root, an unprivileged uid and gid, no capabilities, undumpable; always no_new_privs.
public enum ProcessJail {
    public static func enter(root: String, uid: UInt32, gid: UInt32) throws {
        var failed: UnsafePointer<CChar>?
        guard csystem_enter_jail(root, uid, gid, &failed) == 0 else {
            throw SystemError("jail: \(failed.map { String(cString: $0) } ?? "entering")")
        }
    }

    /// True when this process may switch to another uid (root; a non-root user runs unconfined but for no_new_privs).
    public static var canChangeIdentity: Bool { geteuid() == 0 }
}
