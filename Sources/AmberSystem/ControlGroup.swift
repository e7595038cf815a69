import Glibc

/// A group in the cgroup v2 hierarchy (the unified one, mounted at /sys/fs/cgroup on current systemd
/// hosts): a directory whose files set limits on the processes written into its `cgroup.procs`.
/// Hosts that still mount cgroup v1 there (this project's development machines) have none.
public struct ControlGroup: Sendable {
    public static let mountPoint = "/sys/fs/cgroup"
    /// The group's path below the mount point, e.g. "amber/web.0123456789abcdef".
    public let relativePath: String
    public var path: String { Self.mountPoint + "/" + relativePath }

    public init(relativePath: String) {
        self.relativePath = relativePath
    }

    /// Only a cgroup2 file system has `cgroup.controllers` (a v1 or hybrid host mounts a tmpfs there).
    public static var unifiedHierarchyMounted: Bool {
        access(mountPoint + "/cgroup.controllers", F_OK) == 0
    }

    /// Makes the group (and its parents), with `controllers` enabled for it in every parent that offers them.
    public static func create(_ relativePath: String, controllers: [String]) throws -> ControlGroup {
        var parent = mountPoint
        for component in relativePath.split(separator: "/") {
            let offered = Set(((try? read(parent + "/cgroup.controllers")) ?? "").split(whereSeparator: \.isWhitespace).map(String.init))
            let wanted = controllers.filter(offered.contains)
            if !wanted.isEmpty {
                try write(parent + "/cgroup.subtree_control", wanted.map { "+" + $0 }.joined(separator: " "))
            }
            parent += "/" + component
            if mkdir(parent, 0o755) != 0 && errno != EEXIST { throw SystemError("mkdir \(parent)") }
        }
        return ControlGroup(relativePath: relativePath)
    }

    /// Moves the calling process (every thread of it) into the group. Memory it charged before stays
    /// charged where it was: join before allocating.
    public func join() throws {
        try Self.write(path + "/cgroup.procs", "0")
    }

    /// Writes one of the group's interface files, e.g. `set("memory.max", "1073741824")`.
    public func set(_ file: String, _ value: String) throws {
        try Self.write(path + "/" + file, value)
    }

    public func value(_ file: String) throws -> String {
        String(try Self.read(path + "/" + file).split(whereSeparator: \.isNewline).first ?? "")
    }

    /// Removes the group if no process is in it any more (rmdir of a busy group fails; that is fine).
    public func removeIfEmpty() {
        rmdir(path)
    }

    private static func write(_ path: String, _ text: String) throws {
        let file = try FileDescriptor.open(path, O_WRONLY)
        let bytes = Array(text.utf8)
        _ = try retryingInterrupts("write \(path)") { bytes.withUnsafeBytes { Glibc.write(file.rawValue, $0.baseAddress, $0.count) } }
    }

    private static func read(_ path: String) throws -> String {
        let file = try FileDescriptor.open(path, O_RDONLY)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = try retryingInterrupts("read \(path)") {
            buffer.withUnsafeMutableBytes { Glibc.read(file.rawValue, $0.baseAddress, $0.count) }
        }
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }
}
