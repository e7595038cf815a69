import AmberSystem
import Foundation
import Glibc

/// A store directory: a STORE marker saying what this is, and `packs/` holding the pack files.
///
/// Locks (flock, so a killed process never leaves one behind): every writer and reader of pack
/// contents holds `lease.lock` shared; `gc` holds it exclusive, so it never frees or moves a chunk that
/// a writer in progress has found and is about to reference. Each pack being appended to is itself
/// locked exclusively by its one writer.
public final class ChunkStore: @unchecked Sendable {
    public static let formatVersion = 1
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

    public var packsDirectory: URL { directory.appendingPathComponent("packs") }
    var markerFile: URL { directory.appendingPathComponent("STORE") }
    var leaseLockPath: String { directory.appendingPathComponent("lease.lock").path }

    /// Opens the store in `directory`, creating it when the directory is missing or empty.
    public init(directory: URL, chunkSize: Int = ChunkStore.defaultChunkSize,
                packTarget: UInt64 = ChunkStore.defaultPackTarget, leaseTimeout: Double = ChunkStore.defaultLeaseTimeout) throws {
        self.directory = directory
        self.packTarget = packTarget
        self.leaseTimeout = leaseTimeout
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        if fileManager.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw StoreError.notAStore(path: directory.path) }
            let marker = directory.appendingPathComponent("STORE")
            if fileManager.fileExists(atPath: marker.path) {
                self.chunkSize = try Self.readMarker(marker)
                try fileManager.createDirectory(at: packsDirectory, withIntermediateDirectories: true,
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
        try Self.create(directory: directory, chunkSize: chunkSize)
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
                let notice = "waiting for the store lease \(path), held by \(FileLock.holdersDescription(of: path)); "
                    + "giving up after \(Int(self.leaseTimeout)) s"
                if let waiting { waiting(notice) } else { fputs("amber: \(notice)\n", stderr) }
            }
        } catch FileLock.Failure.timedOut {
            throw StoreError.leaseTimeout(path: path, holders: FileLock.holdersDescription(of: path), seconds: leaseTimeout)
        }
    }

    private static func create(directory: URL, chunkSize: Int) throws {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(at: directory.appendingPathComponent("packs"), withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
            try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
            let temporary = directory.appendingPathComponent("STORE.tmp")
            let text = "amber-store\nformat \(formatVersion)\nchunk-size \(chunkSize)\n"
            let file = try FileDescriptor.open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try Array(text.utf8).withUnsafeBytes { try file.write($0, at: 0) }
            try durablyRename(temporary.path, to: directory.appendingPathComponent("STORE").path)
        } catch let error as CocoaError where error.code == .fileWriteOutOfSpace {
            throw StoreError.noSpace(path: directory.path)
        } catch let error as SystemError where error.errno == ENOSPC || error.errno == EDQUOT {
            throw StoreError.noSpace(path: directory.path)
        }
    }

    private static func readMarker(_ marker: URL) throws -> Int {
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
        guard format <= formatVersion else {
            throw StoreError.newerFormat(path: marker.deletingLastPathComponent().path, version: format)
        }
        return chunkSize
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
