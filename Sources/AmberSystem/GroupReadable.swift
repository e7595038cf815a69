import Glibc

/// The modes of new files and directories in a directory that may be shared with a group for reading
/// (`amber store share`): owner-only, plus group read (and search, for directories) when the directory
/// itself grants its group read. The directory's mode carries the setting, so writers need no other
/// state, and its set-group-ID bit gives new entries the group.
public enum GroupReadable {
    public static func fileMode(inDirectory directory: String) -> mode_t {
        sharesWithGroup(directory) ? 0o640 : 0o600
    }

    public static func directoryMode(inDirectory parent: String) -> mode_t {
        sharesWithGroup(parent) ? 0o2750 : 0o700
    }

    /// The mode of a new file at `path` (in the directory that holds it).
    public static func fileMode(forPath path: String) -> mode_t {
        fileMode(inDirectory: parent(of: path))
    }

    /// Gives a file just created with `mode` exactly that mode: the umask may have taken the group's read
    /// away (a user whose umask is 077 shares a store all the same).
    public static func settle(_ descriptor: Int32, _ mode: mode_t) {
        if mode & 0o070 != 0 { fchmod(descriptor, mode & 0o7777) }
    }

    static func sharesWithGroup(_ directory: String) -> Bool {
        var info = stat()
        return stat(directory, &info) == 0 && info.st_mode & 0o040 != 0
    }

    /// The directory holding `path` ("." for a bare name, "/" at the root).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
