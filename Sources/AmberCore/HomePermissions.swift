import Glibc

/// The home holds every guest's memory and disks: it and everything Amber keeps in it are owner-only
/// (0700 directories, 0600 files) whatever the umask. New files are created that way; this fixes
/// homes made before that (or loosened by hand), on open.
extension AmberHome {
    /// What Amber keeps in the home. Only these are walked: anything else a user put there is theirs.
    static let privateEntries = ["store", "catalog.db", "catalog.db-wal", "catalog.db-shm", "vms", "cache", "policies", "amberd.lock"]

    /// Takes group and other permissions off the home, and off every file and directory under the
    /// entries Amber keeps in it; when there was any, says so in one line through `log`. Best effort:
    /// what cannot be changed (another user's file) is left, and a missing home is left to be created.
    public func makePrivate(log: (String) -> Void = { fputs("amber: \($0)\n", stderr) }) {
        var changed = 0
        var info = stat()
        // A sticky directory (/tmp) is shared by design and not Amber's to close; its entries still are.
        if lstat(root.path, &info) == 0, info.st_mode & S_ISVTX == 0 {
            Self.tighten(root.path, info, changed: &changed)
        }
        for entry in Self.privateEntries {
            Self.tightenTree(root.appendingPathComponent(entry).path, changed: &changed)
        }
        if changed > 0 {
            log("made \(root.path) owner-only: \(changed) file(s) or directories were open to other users")
        }
    }

    private static func tightenTree(_ path: String, changed: inout Int) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFLNK else { return }
        tighten(path, info, changed: &changed)
        guard info.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." { continue }
            tightenTree(path + "/" + name, changed: &changed)
        }
    }

    private static func tighten(_ path: String, _ info: stat, changed: inout Int) {
        let mode = info.st_mode & 0o7777
        if mode & 0o077 != 0, chmod(path, mode & ~0o077) == 0 { changed += 1 }
    }
}
