import AmberSystem
import Foundation
import Glibc

/// A store directory: a STORE marker saying what this is, and `packs/` holding the pack files.
///
/// Locks (flock, so a killed process never leaves one behind): every writer and reader of pack
/// contents holds `lease.lock` shared; `gc` holds it exclusive, so it never frees or moves a chunk that
/// a writer in progress has found and is about to reference. Each pack being appended to is itself
/// locked exclusively by its one writer.
public final class ChunkStore: Sendable {
    public static let formatVersion = 1
    /// Format 2: an encrypted store (`encryption aes-256-gcm`); an amber that knows only format 1 refuses it
    /// with `newerFormat` instead of reading sealed payloads as chunks. Plain stores stay format 1.
    public static let encryptedFormatVersion = 2
    public static let encryptionName = "aes-256-gcm"
    /// 64 KiB: see BENCHMARKS.md ("Chunk size") for the measurements behind it.
    public static let defaultChunkSize = 64 << 10
    /// Packs are closed for appending once they reach this size.
    public static let defaultPackTarget: UInt64 = 64 << 20
    /// How long a command waits for the store lease before giving up: long enough for a gc or an
    /// import of a few GiB to finish, short enough that a stuck holder is reported rather than waited on forever.
    public static let defaultLeaseTimeout = 30.0

    public let directory: URL
    public let chunkSize: Int
    public let packTarget: UInt64
    public let leaseTimeout: Double
    /// An encrypted store's keys (nil: a plain store).
    public let keys: StoreKeys?
    /// The key slot the key given opened (nil: plain store, or a recovery key).
    public let openedSlot: String?

    public var isEncrypted: Bool { keys != nil }
    /// How this store names chunks: SHA-256, or HMAC-SHA256 under the chunk-name key.
    public var namer: ChunkNamer { keys?.namer ?? .sha256 }
    /// Seals and opens pack payloads in an encrypted store.
    public var payloadSealer: PayloadSealer? { keys?.payloads }
    /// What sealing adds to each record's stored length (0 in a plain store).
    public var sealOverhead: Int { keys == nil ? 0 : PayloadSealer.overhead }
    /// The store's record files, sealed under the record key in an encrypted store.
    public var records: RecordDirectory { RecordDirectory(storeDirectory: directory, sealer: keys?.records) }
    public var keySlots: KeySlotDirectory { KeySlotDirectory(storeDirectory: directory) }

    public var packsDirectory: URL { directory.appendingPathComponent("packs") }
    var markerFile: URL { directory.appendingPathComponent("STORE") }
    var leaseLockPath: String { directory.appendingPathComponent("lease.lock").path }

    /// Opens the store in `directory`, creating it (plain) when the directory is missing or empty. An
    /// encrypted store is opened with the key `key` leads to (`StoreUnlock`); a plain one ignores `key`.
    public init(
        directory: URL, chunkSize: Int = ChunkStore.defaultChunkSize,
        packTarget: UInt64 = ChunkStore.defaultPackTarget, leaseTimeout: Double = ChunkStore.defaultLeaseTimeout,
        key: StoreKeyInput = StoreKeyInput(promptsOnTerminal: false)
    ) throws {
        self.directory = directory
        self.packTarget = packTarget
        self.leaseTimeout = leaseTimeout
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        if fileManager.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw StoreError.notAStore(path: directory.path) }
            let marker = directory.appendingPathComponent("STORE")
            if fileManager.fileExists(atPath: marker.path) {
                let fields = try Self.readMarker(marker)
                self.chunkSize = fields.chunkSize
                if let check = fields.keyCheck {
                    let unlocked = try StoreUnlock.unlock(storeDirectory: directory, check: check, input: key)
                    keys = unlocked.keys
                    openedSlot = unlocked.slot
                } else {
                    try Self.refuseDowngrade(directory)
                    keys = nil
                    openedSlot = nil
                }
                try fileManager.createDirectory(
                    at: packsDirectory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
                return
            }
            let contents = try fileManager.contentsOfDirectory(atPath: directory.path)
            guard contents.isEmpty else { throw StoreError.notAStore(path: directory.path) }
        }
        guard chunkSize >= 4096, chunkSize <= PackFormat.maxRecordPayload, chunkSize & (chunkSize - 1) == 0 else {
            throw StoreError.invalidChunkSize(chunkSize)
        }
        self.chunkSize = chunkSize
        keys = nil
        openedSlot = nil
        try Self.create(directory: directory, chunkSize: chunkSize, encryption: nil)
    }

    /// Creates an encrypted store in `directory` (missing or empty): a random master key, one key slot for
    /// `passphrase`, then `STORE` last (its presence is what makes the directory a store). Returns the slot's id.
    @discardableResult
    public static func createEncrypted(
        directory: URL, chunkSize: Int = ChunkStore.defaultChunkSize, passphrase: [UInt8],
        parameters: ScryptParameters = .default
    ) throws -> String {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: directory.appendingPathComponent("STORE").path) {
            throw StoreError.storeExists(path: directory.path)
        }
        if let contents = try? fileManager.contentsOfDirectory(atPath: directory.path), !contents.isEmpty {
            throw StoreError.notAStore(path: directory.path)
        }
        guard chunkSize >= 4096, chunkSize <= PackFormat.maxRecordPayload, chunkSize & (chunkSize - 1) == 0 else {
            throw StoreError.invalidChunkSize(chunkSize)
        }
        let master = StoreKeys.randomMaster()
        let slot = try KeySlot.make(master: master, passphrase: passphrase, parameters: parameters)
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try KeySlotDirectory(storeDirectory: directory).add(slot)
        try create(directory: directory, chunkSize: chunkSize, encryption: StoreKeys(master: master).check)
        return slot.id
    }

    public func packPath(_ name: String) -> String {
        packsDirectory.appendingPathComponent(name + ".pack").path
    }

    /// Names of the pack files present on disk (committed or not).
    public func packFileNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: packsDirectory.path)
            .filter { $0.hasSuffix(".pack") }
            .map { String($0.dropLast(5)) }
            .sorted()
    }

    /// The lock every writer and reader holds while it works; gc takes it exclusively. When it is not
    /// granted at once, `waiting` (by default a line on stderr) is told which file and who holds it;
    /// after `leaseTimeout` seconds the wait ends with `.leaseTimeout`.
    public func lease(_ mode: FileLock.Mode, waiting: ((String) -> Void)? = nil) throws -> FileLock {
        let path = leaseLockPath
        do {
            return try FileLock(path: path, mode: mode, timeout: leaseTimeout) {
                let notice =
                    "waiting for the store lease \(path), held by \(FileLock.holdersDescription(of: path)); "
                    + "giving up after \(Int(self.leaseTimeout)) s"
                if let waiting { waiting(notice) } else { StandardError.write("amber: \(notice)\n") }
            }
        } catch FileLock.Failure.timedOut {
            throw StoreError.leaseTimeout(path: path, holders: FileLock.holdersDescription(of: path), seconds: leaseTimeout)
        }
    }

    /// The record files of the store in `storeDirectory`, with its record key when it is encrypted, without
    /// creating a store that is not there (`snapshot rm` and `protect` write records without opening packs).
    public static func records(storeDirectory: URL, key: StoreKeyInput) throws -> RecordDirectory {
        let marker = storeDirectory.appendingPathComponent("STORE")
        guard FileManager.default.fileExists(atPath: marker.path), let check = try readMarker(marker).keyCheck else {
            try refuseDowngrade(storeDirectory)
            return RecordDirectory(storeDirectory: storeDirectory)
        }
        let unlocked = try StoreUnlock.unlock(storeDirectory: storeDirectory, check: check, input: key)
        return RecordDirectory(storeDirectory: storeDirectory, sealer: unlocked.keys.records)
    }

    /// A plain `STORE` beside key slots is a downgrade (damage or tampering), not a plain store: opened as one, new
    /// chunks and records would go into an encrypted store unencrypted.
    private static func refuseDowngrade(_ directory: URL) throws {
        let slots = (try? FileManager.default.contentsOfDirectory(atPath: KeySlotDirectory(storeDirectory: directory).url.path)) ?? []
        if slots.contains(where: { !$0.hasPrefix(".") }) { throw StoreError.plainMarkerWithKeys(path: directory.path) }
    }

    /// `encryption`: the key check of an encrypted store, nil for a plain one.
    private static func create(directory: URL, chunkSize: Int, encryption: String?) throws {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(
                at: directory.appendingPathComponent("packs"), withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
            let temporary = directory.appendingPathComponent("STORE.tmp")
            var text = "amber-store\nformat \(encryption == nil ? formatVersion : encryptedFormatVersion)\nchunk-size \(chunkSize)\n"
            if let encryption { text += "encryption \(encryptionName)\nkey-check \(encryption)\n" }
            let file = try FileDescriptor.open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try Array(text.utf8).withUnsafeBytes { try file.write($0, at: 0) }
            try durablyRename(temporary.path, to: directory.appendingPathComponent("STORE").path)
        } catch let error as CocoaError where error.code == .fileWriteOutOfSpace {
            throw StoreError.noSpace(path: directory.path)
        } catch let error as SystemError where error.errno == ENOSPC || error.errno == EDQUOT {
            throw StoreError.noSpace(path: directory.path)
        }
    }

    /// The chunk size, and the key check of an encrypted store.
    static func readMarker(_ marker: URL) throws -> (chunkSize: Int, keyCheck: String?) {
        let text = (try? String(contentsOf: marker, encoding: .utf8)) ?? ""
        var fields: [String: String] = [:]
        let lines = text.split(separator: "\n")
        guard lines.first == "amber-store" else { throw StoreError.notAStore(path: marker.deletingLastPathComponent().path) }
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let format = fields["format"].flatMap(Int.init), let chunkSize = fields["chunk-size"].flatMap(Int.init) else {
            throw StoreError.notAStore(path: marker.deletingLastPathComponent().path)
        }
        let path = marker.deletingLastPathComponent().path
        guard format <= encryptedFormatVersion else { throw StoreError.newerFormat(path: path, version: format) }
        guard format == encryptedFormatVersion else { return (chunkSize, nil) }
        // Format 2 must say how it is encrypted, with a method this amber knows.
        guard fields["encryption"] == encryptionName, let check = fields["key-check"], check.utf8.count == 32,
            check.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        else {
            throw StoreError.newerFormat(path: path, version: format)
        }
        return (chunkSize, check)
    }
}

/// rename(2) then fsync of the directory, so the new name survives a crash.
func durablyRename(_ from: String, to: String) throws {
    try retryingInterrupts("rename \(from)") { rename(from, to) }
    try syncDirectory(containing: to)
}

func syncDirectory(containing path: String) throws {
    let parent = (path as NSString).deletingLastPathComponent
    let directory = try FileDescriptor.open(parent, O_RDONLY | O_DIRECTORY)
    try directory.sync()
}
