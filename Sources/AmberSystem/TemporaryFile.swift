import Glibc

/// Temporary files of whole-file replacements: a file is written as `PATH.amber-partial-PID` and renamed over
/// PATH once whole, so readers see the old file or the new one. A writer killed before its rename leaves its
/// temporary file behind (a killed clone's can be as large as the guest's memory); the next writer of the
/// same path removes those whose process has ended.
public enum TemporaryFile {
    public static let marker = ".amber-partial-"

    /// Where this process writes the next version of `path`; stale ones of ended processes are removed first.
    public static func path(replacing path: String) -> String {
        let prefix = String(path.split(separator: "/").last ?? Substring(path)) + marker
        removeStale(in: GroupReadable.parent(of: path)) { name in
            name.hasPrefix(prefix) ? pid_t(name.dropFirst(prefix.count)) : nil
        }
        return path + marker + String(getpid())
    }

    /// Removes the entries of `directory` for which `owner` names a process that no longer exists (never
    /// this process's). Best effort: a file that cannot be removed stays, as it would have anyway.
    public static func removeStale(in directory: String, owner: (String) -> pid_t?) {
        guard let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = owner(name), pid > 0, pid != getpid(), !processExists(pid) else { continue }
            unlinkat(dirfd(stream), name, 0)
        }
    }

    /// True unless the kernel says there is no such process (another user's process exists too: EPERM).
    public static func processExists(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }
}
