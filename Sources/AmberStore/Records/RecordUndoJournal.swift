import AmberSystem
import Foundation
import Glibc

/// What a record file held before a change replaced it: put back if the catalog transaction the change belongs
/// to never commits.
public struct RecordUndoEntry: Codable, Sendable, Equatable {
    public var type: String
    public var key: String
    /// The file's bytes before the change; nil when there was no file.
    public var previous: Data?
    /// The revision the change writes. A crashed change is put back only while the file still holds it: a later
    /// writer that replaced the file since must not be undone by an older journal, whether or not the catalog at
    /// hand shows that writer's commit (it does not when catalog.db was lost or replaced by an older copy).
    public var written: UInt64?

    public init(type: RecordType, key: String, previous: [UInt8]?, written: UInt64?) {
        self.type = type.rawValue
        self.key = key
        self.previous = previous.map { Data($0) }
        self.written = written
    }
}

/// One writer's undo journal, `records/.undo/<pid>-<random>`: written durably before the records it covers, locked
/// by its writer for as long as the catalog transaction runs, deleted once it committed (or was undone).
/// A journal nobody holds locked belongs to a writer killed mid-change: `crashedJournals()` finds it, and the
/// caller, comparing with the catalog, puts back what was not committed. Without it a record written just before
/// a kill would describe an import or snapshot the user saw fail.
public final class RecordUndoJournal {
    public let path: String
    private let lock: FileLock
    private var length: UInt64 = 0
    /// A journal larger than this is not one Amber wrote (a prune of a million snapshots stays well below).
    static let maxSize = 1 << 30

    init(directory: URL) throws {
        path = directory.appendingPathComponent("\(getpid())-\(String(UInt64.random(in: 1...UInt64.max), radix: 16))").path
        do {
            lock = try FileLock(exclusive: path, creating: true)
        } catch {
            throw StoreError.io(operation: "create the record undo journal \(path)", cause: FailureCause(error))
        }
        try syncDirectory(containing: path)
    }

    /// Appends entries, one JSON line each, and makes them durable. Only appended: a kill mid-append tears at
    /// most the last lines, whose records were not written yet.
    func append(_ more: [RecordUndoEntry]) throws {
        var bytes: [UInt8] = []
        for entry in more { bytes += Array(try JSONEncoder().encode(entry)) + [UInt8(ascii: "\n")] }
        do {
            try bytes.withUnsafeBytes { try lock.descriptor.write($0, at: length) }
            try lock.descriptor.sync()
        } catch {
            throw StoreError.from(error, path: path)
        }
        length += UInt64(bytes.count)
    }

    /// The change committed or was undone: the journal goes (no sync needed: a journal left behind by a crash
    /// here is resolved later, against a catalog that shows the commit).
    public func discard() {
        unlink(path)
    }

    /// Reads a journal whose writer is gone (nil while its writer holds it): its whole lines. A torn or
    /// unreadable line ends it: each line is durable before the record it covers changes, so nothing after it
    /// changed.
    static func readCrashed(_ path: String) -> (lock: FileLock, entries: [RecordUndoEntry])? {
        guard let fd = try? FileDescriptor.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC),
            let lock = FileLock(tryingExclusive: fd)
        else { return nil }
        guard let size = try? fd.size(), size <= UInt64(maxSize) else { return (lock, []) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let count = (try? bytes.withUnsafeMutableBytes { try fd.read(into: $0, at: 0) }) ?? 0
        var entries: [RecordUndoEntry] = []
        for line in bytes.prefix(count).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            guard let entry = try? JSONDecoder().decode(RecordUndoEntry.self, from: Data(line)) else { break }
            entries.append(entry)
        }
        return (lock, entries)
    }
}

extension RecordDirectory {
    var undoDirectory: URL { root.appendingPathComponent(".undo") }

    /// Whether any undo journal is present (the common case, none, costs one directory read).
    public var hasUndoJournals: Bool {
        !((try? FileManager.default.contentsOfDirectory(atPath: undoDirectory.path)) ?? []).isEmpty
    }

    /// Starts an undo journal for one catalog transaction's record changes.
    public func beginUndoJournal() throws -> RecordUndoJournal {
        do {
            try FileManager.default.createDirectory(
                at: undoDirectory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError.io(operation: "create \(undoDirectory.path)", cause: FailureCause(foundation: error))
        }
        return try RecordUndoJournal(directory: undoDirectory)
    }

    /// Records the current contents of the files about to change, and the revision each change writes, in
    /// `journal`, durably.
    public func journal(_ changes: [(type: RecordType, key: String, written: UInt64)], in journal: RecordUndoJournal) throws {
        try journal.append(
            changes.map {
                RecordUndoEntry(type: $0.type, key: $0.key, previous: contents($0.type, key: $0.key), written: $0.written)
            })
    }

    /// Journals left by writers that were killed mid-change, all locked for the caller while `resolve` runs: it is
    /// given the entries of all of them at once (two killed writers may have changed one record, and the newer
    /// change must be put back first) and puts back what the catalog shows was not committed. The journals are
    /// then deleted.
    public func resolveCrashedJournals(_ resolve: ([RecordUndoEntry]) throws -> Void) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: undoDirectory.path) else { return }
        let crashed = names.sorted().compactMap { name -> (path: String, lock: FileLock, entries: [RecordUndoEntry])? in
            let path = undoDirectory.appendingPathComponent(name).path
            return RecordUndoJournal.readCrashed(path).map { (path, $0.lock, $0.entries) }
        }
        guard !crashed.isEmpty else { return }
        try withExtendedLifetime(crashed.map(\.lock)) {
            try resolve(crashed.flatMap(\.entries))
            for journal in crashed { unlink(journal.path) }
        }
    }
}
