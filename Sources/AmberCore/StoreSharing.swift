import Foundation
import Glibc

/// A store shared with one group for reading (`amber store share --group NAME`): a backup job or an auditor
/// that copies or checks the store without being its owner. The group may read the store's packs, records
/// and markers and search the home to reach them; nothing else: not the catalog, the VMs' directories
/// (disks, logs, sockets), the restore cache, policies or the store's key slots, and it may write nothing.
/// The store's directories carry the setting (group read and set-group-ID, so new packs and records are
/// group-readable too: `GroupReadable`); `store/GROUP` names the group so that opening the home keeps it.
public enum StoreSharing {
    static let fileName = "GROUP"

    public struct Report: Sendable, Codable {
        public var group: String?
        public var changed: Int

        public init(group: String?, changed: Int) {
            self.group = group
            self.changed = changed
        }
    }

    static func marker(_ home: AmberHome) -> String { home.storeDirectory.appendingPathComponent(fileName).path }

    static func isShared(_ home: AmberHome) -> Bool { access(marker(home), F_OK) == 0 }

    /// The group the store is shared with, if any.
    public static func group(of home: AmberHome) -> String? {
        guard let text = try? String(contentsOfFile: marker(home), encoding: .utf8) else { return nil }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? nil : name
    }

    /// Shares the store of `context`'s home with `group` (a group name or number) for reading.
    public static func share(_ context: StoreContext, group: String) throws -> Report {
        let gid = try resolve(group)
        let home = context.home
        let lease = try context.store.lease(.exclusive)
        defer { withExtendedLifetime(lease) {} }
        // The marker first: a share cut short is finished by the next open's walk, which keeps group read.
        let path = marker(home)
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard file >= 0 else { throw SharingError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(file) }
        let text = Array("\(group)\n".utf8)
        guard text.withUnsafeBytes({ write(file, $0.baseAddress, $0.count) }) == text.count, fsync(file) == 0 else {
            throw SharingError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        var changed = 0
        try setGroup(home.root.path, gid: gid, mode: 0o710, changed: &changed)
        try shareTree(home.storeDirectory.path, gid: gid, changed: &changed)
        return Report(group: group, changed: changed)
    }

    /// Makes the store owner-only again.
    public static func unshare(_ context: StoreContext) throws -> Report {
        let home = context.home
        let lease = try context.store.lease(.exclusive)
        defer { withExtendedLifetime(lease) {} }
        unlink(marker(home))
        var changed = 0
        var info = stat()
        if stat(home.root.path, &info) == 0, info.st_mode & 0o077 != 0, chmod(home.root.path, info.st_mode & 0o7700) == 0 { changed += 1 }
        AmberHome.tightenTree(home.storeDirectory.path, keeping: 0, changed: &changed)
        return Report(group: nil, changed: changed)
    }

    static func resolve(_ group: String) throws -> gid_t {
        if let entry = getgrnam(group) { return entry.pointee.gr_gid }
        if let number = gid_t(group), getgrgid(number) != nil { return number }
        throw SharingError("no group \(group) on this host: give a name from /etc/group (or create it with groupadd)")
    }

    private static func shareTree(_ path: String, gid: gid_t, changed: inout Int) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFDIR || kind == S_IFREG else { return }
        guard !AmberHome.isKeySlotDirectory(path) else { return }
        try setGroup(path, gid: gid, mode: kind == S_IFDIR ? 0o2750 : 0o640, changed: &changed)
        guard kind == S_IFDIR else { return }
        for name in try FileManager.default.contentsOfDirectory(atPath: path) {
            try shareTree(path + "/" + name, gid: gid, changed: &changed)
        }
    }

    private static func setGroup(_ path: String, gid: gid_t, mode: mode_t, changed: inout Int) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_gid != gid {
            guard lchown(path, uid_t.max, gid) == 0 else {
                throw SharingError(
                    "cannot give \(path) to group \(gid): \(String(cString: strerror(errno))) "
                        + "(the owner must be a member of the group, or root)")
            }
        }
        if info.st_gid != gid || info.st_mode & 0o7777 != mode {
            guard chmod(path, mode) == 0 else { throw SharingError("cannot chmod \(path): \(String(cString: strerror(errno)))") }
            changed += 1
        }
    }
}

public struct SharingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
