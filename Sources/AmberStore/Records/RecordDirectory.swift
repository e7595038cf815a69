import AmberSystem
import Foundation
import Glibc

/// The store's records: `records/vms/<name>`, `records/images/<name>`, `records/snapshots/<id>`, one small
/// file per object (as restic keeps one file per snapshot and Proxmox Backup Server one directory), replaced
/// whole and durably each time the object changes. The catalog is an index of these files: `amber store
/// recover` rebuilds it from them, and gc keeps every chunk a live record names.
///
/// Writers replace a record inside the catalog's write transaction that makes the matching change, so
/// records are written in the same order as the catalog's commits and the newest version is the file.
public final class RecordDirectory: Sendable {
    public let root: URL
    /// Present once every catalog row of this home has been given a record (see `markComplete`).
    var completeMarker: URL { root.appendingPathComponent("COMPLETE") }
    private var temporaryDirectory: URL { root.appendingPathComponent(".tmp") }
    /// An encrypted store's record key: bodies are sealed (record format 2). Get a store's directory from
    /// `ChunkStore.records`, which knows whether the store is encrypted.
    let sealer: PayloadSealer?

    public init(storeDirectory: URL, sealer: PayloadSealer? = nil) {
        root = storeDirectory.appendingPathComponent("records")
        self.sealer = sealer
    }

    public func directory(_ type: RecordType) -> URL { root.appendingPathComponent(type.directoryName) }

    public func path(_ type: RecordType, key: String) -> String { directory(type).appendingPathComponent(key).path }

    /// "snapshots/0123abcd": how messages name a record.
    public static func name(_ type: RecordType, key: String) -> String { "\(type.directoryName)/\(key)" }

    /// Whether the catalog rows of this home have all been given records (by the migration of a store written
    /// before records existed, or because the store was created with them).
    public var isComplete: Bool { FileManager.default.fileExists(atPath: completeMarker.path) }

    public func markComplete() throws {
        try writeDurably(
            Array("amber-records \(RecordEnvelope.formatVersion)\nevery catalog row has a record\n".utf8),
            to: completeMarker.path)
    }

    // MARK: - Typed records

    /// Writes `records` (each replacing its object's previous version), durably: when this returns, a crash
    /// leaves each file either as it was or as given, never torn.
    public func save<D: RecordDescription>(_ records: [StoredRecord<D>]) throws {
        let files = try records.map { record -> (String, [UInt8]) in
            guard RecordBounds.isKey(record.description.key) else {
                throw StoreError.badRecord(
                    name: Self.name(D.recordType, key: record.description.key),
                    reason: "not a name a record file can have")
            }
            return (path(D.recordType, key: record.description.key), try Self.file(record, sealer: sealer))
        }
        try writeDurably(files, in: directory(D.recordType))
    }

    public func save<D: RecordDescription>(_ record: StoredRecord<D>) throws { try save([record]) }

    /// The record of `key`, nil when there is none; a damaged one is an error naming it.
    public func load<D: RecordDescription>(_ type: D.Type, key: String) throws -> StoredRecord<D>? {
        guard RecordBounds.isKey(key) else { return nil }
        switch try read(D.self, key: key) {
        case .none: return nil
        case .some(.success(let record)): return record
        case .some(.failure(let defect)):
            throw StoreError.badRecord(name: Self.name(D.recordType, key: key), reason: defect.description)
        }
    }

    /// Every record of one type, and those that could not be read (a damaged file costs only itself).
    public func loadAll<D: RecordDescription>(_ type: D.Type) throws -> (records: [StoredRecord<D>], damaged: [DamagedRecord]) {
        let keys = try keys(D.recordType)
        // Reading, checking and decoding is CPU work per file: spread over the cores (recover of 10,000 snapshots).
        let results = try keys.parallelMap { key in try read(D.self, key: key) }
        var records: [StoredRecord<D>] = []
        var damaged: [DamagedRecord] = []
        for (key, result) in zip(keys, results) {
            switch result {
            case .none: continue
            case .some(.success(let record)): records.append(record)
            case .some(.failure(let defect)):
                damaged.append(
                    DamagedRecord(
                        type: D.recordType.rawValue, key: key, path: Self.name(D.recordType, key: key),
                        reason: defect.description))
            }
        }
        return (records, damaged)
    }

    /// File names in a type's directory that can be record keys (temporary and foreign files are not).
    public func keys(_ type: RecordType) throws -> [String] {
        let path = directory(type).path
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path).filter(RecordBounds.isKey).sorted()
        } catch {
            throw StoreError.io(operation: "list \(path)", cause: FailureCause(foundation: error))
        }
    }

    private func read<D: RecordDescription>(_ type: D.Type, key: String) throws -> Result<StoredRecord<D>, RecordDefect>? {
        let path = self.path(D.recordType, key: key)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            if errno == ELOOP { return .failure(.badBody("a symbolic link, not a record file")) }
            throw StoreError.io(operation: "open record \(path)", cause: FailureCause(errno: errno))
        }
        let file = FileDescriptor(owning: fd)
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError.io(operation: "stat \(path)", cause: FailureCause(errno: errno)) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failure(.badBody("not a regular file")) }
        guard info.st_size <= off_t(RecordEnvelope.maxFileSize) else { return .failure(.tooLarge(Int(info.st_size))) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = try bytes.withUnsafeMutableBytes {
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]), at: UInt64(filled))
            }
            if count == 0 { break }
            filled += count
        }
        bytes.removeLast(bytes.count - filled)
        return Self.parse(bytes, as: D.self, key: key, sealer: sealer)
    }

    /// A record file's bytes: the envelope around the record's body (sealed in an encrypted store).
    public static func file<D: RecordDescription>(_ record: StoredRecord<D>, sealer: PayloadSealer?) throws -> [UInt8] {
        RecordEnvelope.encode(type: D.recordType, body: try record.encodedBody(), sealer: sealer)
    }

    /// Reads a record file's bytes (untrusted: checked as FORMAT.md section 9 says) named `key`.
    public static func parse<D: RecordDescription>(
        _ bytes: [UInt8], as type: D.Type, key: String,
        sealer: PayloadSealer?
    ) -> Result<StoredRecord<D>, RecordDefect> {
        RecordEnvelope.decode(bytes, type: D.recordType, sealer: sealer).flatMap { StoredRecord<D>.decode(body: $0, key: key) }
    }

    // MARK: - Undo

    /// The file's bytes as they are (nil: no file), to put back with `putBack` if the change they precede fails.
    public func contents(_ type: RecordType, key: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path(type, key: key)).map(Array.init)
    }

    /// Puts back what `contents` returned: the record as it was, or no record.
    public func putBack(_ type: RecordType, key: String, contents: [UInt8]?) throws {
        let path = self.path(type, key: key)
        if let contents {
            try writeDurably([(path, contents)], in: directory(type))
        } else if unlink(path) == 0 {
            try syncDirectory(containing: path)
        }
    }

    // MARK: - Durable writes

    private func writeDurably(_ bytes: [UInt8], to path: String) throws {
        try writeDurably([(path, bytes)], in: URL(fileURLWithPath: path).deletingLastPathComponent())
    }

    /// Each file goes to a temporary name first and is synced, then all are renamed into place and the
    /// directory is synced once: a batch (a prune's tombstones) costs one directory sync, not one per file.
    private func writeDurably(_ files: [(path: String, bytes: [UInt8])], in directory: URL) throws {
        guard !files.isEmpty else { return }
        do {
            for folder in [root, temporaryDirectory, directory] where access(folder.path, F_OK) != 0 {
                let mode = GroupReadable.directoryMode(inDirectory: folder.deletingLastPathComponent().path)
                try FileManager.default.createDirectory(
                    at: folder, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: Int(mode)])
            }
        } catch {
            throw StoreError.io(operation: "create \(directory.path)", cause: FailureCause(foundation: error))
        }
        var written: [(temporary: String, path: String)] = []
        defer { for (temporary, _) in written { unlink(temporary) } }
        for (path, bytes) in files {
            let temporary = temporaryDirectory.appendingPathComponent("\(getpid())-\(UInt64.random(in: 1...UInt64.max))").path
            do {
                let mode = GroupReadable.fileMode(inDirectory: directory.path)
                let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: mode)
                GroupReadable.settle(file.rawValue, mode)
                written.append((temporary, path))
                try bytes.withUnsafeBytes { try file.write($0, at: 0) }
                try file.sync()
            } catch {
                throw StoreError.from(error, path: temporary)
            }
        }
        for (temporary, path) in written {
            try retryingInterrupts("rename \(temporary) to \(path)") { rename(temporary, path) }
        }
        written = []
        try syncDirectory(containing: files[0].path)
    }
}

extension RecordDirectory {
    /// Removes the temporary files (`.tmp/<pid>-<random>`) of writers killed before their rename.
    public func removeStaleTemporaryFiles() {
        TemporaryFile.removeStale(in: temporaryDirectory.path) { name in name.split(separator: "-").first.flatMap { pid_t($0) } }
    }
}
