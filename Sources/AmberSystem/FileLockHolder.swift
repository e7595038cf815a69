import Glibc

extension FileLock {
    /// The pid holding an exclusive flock on `path` (0 when held by an unknown process, without
    /// /proc), or nil when nobody does or the file is missing.
    ///
    /// Read from /proc/locks rather than by trying the lock: a probing lock, however brief, could make
    /// a process taking its own lock with LOCK_NB at that instant fail. /proc/locks names files by
    /// device and inode; only the inode is compared, because some filesystems (btrfs, overlayfs)
    /// report a different device to stat(2) than to /proc/locks.
    public static func holder(of path: String) -> Int32? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        guard let table = procLocks() else { return probe(path) ? 0 : nil }
        for line in table.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 4242 00:2d:1234567 0 EOF"; waiters have "->" after the id.
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE",
                let inode = fields[5].split(separator: ":").last.flatMap({ UInt64($0) }),
                inode == UInt64(info.st_ino), let pid = Int32(fields[4])
            else { continue }
            return pid
        }
        return nil
    }

    public static func isHeld(at path: String) -> Bool { holder(of: path) != nil }

    /// Who holds any flock (shared or exclusive) on `path`, for telling a user what they wait for:
    /// "pid 4242 (amber store gc)", several joined with commas; "another process" when /proc does not say.
    public static func holdersDescription(of path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0, let table = procLocks() else { return "another process" }
        var pids: [Int32] = []
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK",
                let inode = fields[5].split(separator: ":").last.flatMap({ UInt64($0) }),
                inode == UInt64(info.st_ino), let pid = Int32(fields[4]), !pids.contains(pid)
            else { continue }
            pids.append(pid)
        }
        guard !pids.isEmpty else { return "another process" }
        return pids.map { pid in commandLine(of: pid).map { "pid \(pid) (\($0))" } ?? "pid \(pid)" }.joined(separator: ", ")
    }

    /// The first words of a process's command line, its program without the directory: "amber store gc".
    private static func commandLine(of pid: Int32) -> String? {
        guard let text = readAll("/proc/\(pid)/cmdline") else { return nil }
        var words = text.split(separator: "\0").prefix(3).map(String.init)
        guard let program = words.first else { return nil }
        words[0] = String(program.split(separator: "/").last ?? Substring(program))
        return words.joined(separator: " ")
    }

    private static func procLocks() -> String? { readAll("/proc/locks") }

    private static func readAll(_ path: String) -> String? {
        guard let file = try? FileDescriptor.open(path, O_RDONLY) else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(file.rawValue, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Without /proc: whether a shared lock is refused, i.e. someone holds an exclusive one.
    private static func probe(_ path: String) -> Bool {
        guard let file = try? FileDescriptor.open(path, O_RDONLY) else { return false }
        while true {
            if flock(file.rawValue, LOCK_SH | LOCK_NB) == 0 { return false }
            if errno != EINTR { return errno == EWOULDBLOCK }
        }
    }
}
