import AmberSystem
import Glibc

/// The home holds every guest's memory and disks: it and everything Amber keeps in it are owner-only
/// (0700 directories, 0600 files) whatever the umask. New files are created that way; this fixes
/// homes made before that on their first open (a walk of everything Amber keeps there, remembered by
/// `privateMarker`), and a home or top-level entry loosened by hand later (then the walk is done again).
extension AmberHome {
    /// What Amber keeps in the home. Only these are walked: anything else a user put there is theirs.
    static let privateEntries = [
        "store", "catalog.db", "catalog.db-wal", "catalog.db-shm", "vms", "networks", "cache", "policies", "amberd.lock",
    ]
    /// Written once a full walk has made the home private: later opens check only the top level (a store's
    /// thousands of pack files are not listed on every command).
    static let privateMarker = ".private"

    /// Takes group and other permissions off the home, and off every file and directory under the
    /// entries Amber keeps in it; when there was any, says so in one line through `log`. Best effort:
    /// what cannot be changed (another user's file) is left, and a missing home is left to be created.
    public func makePrivate(log: (String) -> Void = { StandardError.write("amber: \($0)\n") }) {
        var changed = 0
        var info = stat()
        // A sticky directory (/tmp) is shared by design and not Amber's to close; its entries still are.
        let shared = StoreSharing.isShared(self)
        if lstat(root.path, &info) == 0, info.st_mode & S_ISVTX == 0 {
            Self.tighten(root.path, info, keeping: shared ? 0o010 : 0, changed: &changed)
        }
        let marker = root.appendingPathComponent(Self.privateMarker).path
        let walked = access(marker, F_OK) == 0
        if walked {
            for entry in Self.privateEntries {
                let path = root.appendingPathComponent(entry).path
                if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFLNK {
                    Self.tighten(path, info, keeping: Self.groupBits(entry: entry, shared: shared), changed: &changed)
                }
            }
        }
        if !walked || changed > 0 {
            for entry in Self.privateEntries {
                Self.tightenTree(
                    root.appendingPathComponent(entry).path, keeping: Self.groupBits(entry: entry, shared: shared),
                    changed: &changed)
            }
            if access(root.path, F_OK) == 0 {
                let file = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
                if file >= 0 { close(file) }
            }
        }
        if changed > 0 {
            log("made \(root.path) owner-only: \(changed) file(s) or directories were open to other users")
        }
    }

    /// The group bits an entry may keep: read (and search) on the store of a home shared with a group.
    private static func groupBits(entry: String, shared: Bool) -> mode_t {
        shared && entry == "store" ? 0o050 : 0
    }

    /// Key slots are never shared: a group that may copy the store must not get to guess passphrases offline.
    static func isKeySlotDirectory(_ path: String) -> Bool { path.hasSuffix("/store/keys") }

    static func tightenTree(_ path: String, keeping groupBits: mode_t, changed: inout Int) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFLNK else { return }
        let keeping = isKeySlotDirectory(path) ? 0 : groupBits
        tighten(path, info, keeping: keeping, changed: &changed)
        guard info.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." { continue }
            tightenTree(path + "/" + name, keeping: keeping, changed: &changed)
        }
    }

    /// Takes every group and other bit off but `groupBits`.
    private static func tighten(_ path: String, _ info: stat, keeping groupBits: mode_t, changed: inout Int) {
        let mode = info.st_mode & 0o7777
        let allowed = ~(0o077 & ~groupBits)
        if mode & ~allowed != 0, chmod(path, mode & allowed) == 0 { changed += 1 }
    }
}
