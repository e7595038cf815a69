import AmberSystem
import Foundation
import Glibc

/// `store/keys/`: one file per key slot, named by the slot's id, owner-only (0600 in a 0700 directory).
public struct KeySlotDirectory: Sendable {
    public let url: URL

    public init(storeDirectory: URL) {
        url = storeDirectory.appendingPathComponent("keys")
    }

    public func path(of id: String) -> String { url.appendingPathComponent(id).path }

    /// Every slot file: those that parse, and those that do not with why (a damaged slot costs only itself).
    public func load() throws -> (slots: [KeySlot], damaged: [(file: String, reason: String)]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            return ([], [])
        }
        var slots: [KeySlot] = []
        var damaged: [(String, String)] = []
        for name in names {
            let file = path(of: name)
            do {
                let slot = try KeySlot.parse(try readSmallFile(file))
                guard slot.id == name else { throw KeySlotDefect(reason: "its id \(slot.id) is not its file name") }
                slots.append(slot)
            } catch let defect as KeySlotDefect {
                damaged.append((file, defect.reason))
            } catch {
                damaged.append((file, "\(error)"))
            }
        }
        return (slots, damaged)
    }

    /// Writes a new slot durably (temporary file, fsync, rename, directory fsync); never replaces one.
    public func add(_ slot: KeySlot) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let target = path(of: slot.id)
        guard access(target, F_OK) != 0 else { throw StoreError.keySlot(what: "key slot \(target)", reason: "already exists") }
        let temporary = url.appendingPathComponent(".\(slot.id).tmp").path
        let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try slot.encoded().withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
        try durablyRename(temporary, to: target)
    }

    public func remove(id: String) throws {
        let target = path(of: id)
        guard unlink(target) == 0 else {
            throw StoreError.keySlot(
                what: "key slot \(id)",
                reason: errno == ENOENT
                    ? "no such slot (see `amber store key ls`)"
                    : String(cString: strerror(errno)))
        }
        try syncDirectory(containing: target)
    }

    private func readSmallFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw KeySlotDefect(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: KeySlot.maxFileSize + 1)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            filled += count
        }
        return Array(buffer[0..<filled])
    }
}
