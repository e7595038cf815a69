import AmberSystem
import Foundation
import Glibc

/// One line of `amber store key ls`.
public struct KeySlotListing: Codable, Sendable, Equatable {
    public var id: String
    public var file: String
    public var created: Date?
    public var kdf: String?
    /// Why the slot cannot be used, when it is damaged.
    public var damaged: String?
}

/// Adding, removing and exporting keys of an open encrypted store. Removing a slot revokes that passphrase;
/// it cannot revoke a master key someone already exported or copied out of a slot they could open (as with
/// restic's `key remove`): only a new store and a copy of the data does that.
extension ChunkStore {
    /// Whether the store in `directory` says it is encrypted (reads `STORE` only, needs no key).
    public static func isEncrypted(directory: URL) throws -> Bool {
        let marker = directory.appendingPathComponent("STORE")
        guard FileManager.default.fileExists(atPath: marker.path) else {
            throw StoreError.keySlot(
                what: "store \(directory.path)", reason: "does not exist; create one with `amber store init --encrypt`")
        }
        return try readMarker(marker).keyCheck != nil
    }

    /// The key slots of the store in `directory`, damaged ones included (needs no key).
    public static func listKeySlots(directory: URL) throws -> [KeySlotListing] {
        let (slots, damaged) = try KeySlotDirectory(storeDirectory: directory).load()
        let slotsDirectory = KeySlotDirectory(storeDirectory: directory)
        return
            (slots.map {
                KeySlotListing(
                    id: $0.id, file: slotsDirectory.path(of: $0.id), created: Date(timeIntervalSince1970: Double($0.created)),
                    kdf: "scrypt N=\($0.parameters.n) r=\($0.parameters.r) p=\($0.parameters.p)", damaged: nil)
            }
            + damaged.map {
                KeySlotListing(id: ($0.file as NSString).lastPathComponent, file: $0.file, created: nil, kdf: nil, damaged: $0.reason)
            }).sorted { $0.id < $1.id }
    }

    /// A new slot holding this store's master key under `passphrase`.
    public func addKeySlot(passphrase: [UInt8], parameters: ScryptParameters = .default) throws -> KeySlot {
        let keys = try requireKeys()
        let slot = try KeySlot.make(master: keys.master, passphrase: passphrase, parameters: parameters)
        try keySlots.add(slot)
        return slot
    }

    /// Removes slot `id`. Refused for the last usable slot, and for the slot this store was opened with, unless
    /// `force` (after which only another slot or an exported key opens the store).
    public func removeKeySlot(id: String, force: Bool) throws {
        _ = try requireKeys()
        let (slots, _) = try keySlots.load()
        guard slots.contains(where: { $0.id == id }) || force else {
            throw StoreError.keySlot(
                what: "key slot \(id)", reason: "no such usable slot (see `amber store key ls`; --force removes a damaged one)")
        }
        if !force {
            guard slots.count > 1 else {
                throw StoreError.keySlot(
                    what: "key slot \(id)", reason: "it is the store's last usable slot; add another first (or --force)")
            }
            guard id != openedSlot else {
                throw StoreError.keySlot(
                    what: "key slot \(id)", reason: "it is the slot the key given opened; open with another key to remove it (or --force)")
            }
        }
        try keySlots.remove(id: id)
        StoreUnlock.forget()
    }

    /// Writes the master key to a new owner-only file (a recovery key: `--key-file` takes it directly).
    public func exportMasterKey(to path: String) throws {
        let keys = try requireKeys()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError.io(
                operation: "create \(path)",
                cause: errno == EEXIST
                    ? FailureCause(reason: "the file exists; give a new path", errno: EEXIST) : FailureCause(errno: errno))
        }
        let file = FileDescriptor(owning: fd)
        do {
            try KeyMaterial.recoveryFile(master: keys.master).withUnsafeBytes { try file.write($0, at: 0) }
            try file.sync()
        } catch {
            unlink(path)
            throw error
        }
    }

    private func requireKeys() throws -> StoreKeys {
        guard let keys else { throw StoreError.keySlot(what: "store \(directory.path)", reason: "is not encrypted; it has no keys") }
        return keys
    }
}
