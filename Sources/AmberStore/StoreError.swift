import AmberModel
import AmberSystem
import Glibc

/// Everything the store refuses, each a one-line explanation naming the thing and what to do.
public enum StoreError: CausedError, CustomStringConvertible, Equatable {
    case notAStore(path: String)
    case newerFormat(path: String, version: Int)
    /// A pack holds something a newer Amber wrote (a file header version or a record codec this one does
    /// not know): indexing around it would let gc cut or delete it.
    case newerPack(name: String, what: String)
    case noSpace(path: String)
    /// `cause` keeps the failed call's errno where there was one (`CausedError`).
    case io(operation: String, cause: FailureCause)
    case corruptChunk(digest: ChunkDigest, pack: String, offset: UInt64, reason: String)
    case missingChunk(ChunkDigest)
    case missingPack(name: String)
    case badManifest(digest: ChunkDigest, reason: String)
    /// A chunk or pack row of the catalog's index holding a number no record can have.
    case badIndexRow(what: String, reason: String)
    case unsupportedSource(path: String, kind: String)
    case leaseTimeout(path: String, holders: String, seconds: Double)
    case inputChanged(path: String)
    case chunkTooLarge(Int)
    case invalidChunkSize(Int)
    /// A record file (`records/<type>s/<key>`) that cannot be read back.
    case badRecord(name: String, reason: String)
    /// An encrypted store opened without a key (no --key-file, no $AMBER_KEY_FILE, no terminal).
    case keyNeeded(path: String)
    /// A new key (a new store's, a new slot's) was asked for where none can be typed.
    case newKeyNeeded(path: String, option: String)
    /// The key given opens no key slot of the store (or is a recovery key of another store).
    case wrongKey(path: String, source: String)
    case badKeyFile(path: String, reason: String)
    /// Every key slot of an encrypted store is damaged or missing.
    case noUsableKeySlot(path: String, damaged: [String])
    case keySlot(what: String, reason: String)
    case storeExists(path: String)
    /// `STORE` says the store is plain, yet it has key slots: a damaged or rewritten marker. Opened as plain, new
    /// chunks and records would be written unencrypted into an encrypted store.
    case plainMarkerWithKeys(path: String)

    public var description: String {
        switch self {
        case .notAStore(let path):
            return "\(path) exists but is not an Amber store (no STORE marker); point --home at an Amber home or an empty directory"
        case .newerFormat(let path, let version):
            return "the store at \(path) has format \(version), newer than this amber understands; upgrade amber"
        case .newerPack(let name, let what):
            return "pack \(name) holds \(what), written by a newer Amber; use that Amber for this store (this one would lose it)"
        case .noSpace(let path):
            return "no space left on the device holding \(path); free some space (or run `amber store gc`) and retry"
        case .io(let operation, let cause):
            return "\(operation): \(cause)"
        case .corruptChunk(let digest, let pack, let offset, let reason):
            return
                "chunk \(digest) in pack \(pack) at offset \(offset) is corrupt (\(reason)); run `amber store verify` to quarantine it and see what depends on it"
        case .missingChunk(let digest):
            return "chunk \(digest) is not in the store; run `amber store verify`"
        case .missingPack(let name):
            return "pack file \(name) is missing from the store; run `amber store verify`"
        case .badManifest(let digest, let reason):
            return "manifest \(digest) is unreadable (\(reason)); run `amber store verify`"
        case .badIndexRow(let what, let reason):
            return
                "the catalog's index row for \(what) is impossible (\(reason)); run `amber store rebuild-index` to rebuild the index from the packs"
        case .unsupportedSource(let path, let kind):
            return
                "\(path) is \(kind), not a regular file or block device; give the path of an image file (copy a stream into a file first)"
        case .leaseTimeout(let path, let holders, let seconds):
            return "gave up after \(Int(seconds)) s waiting for the store lease \(path), held by \(holders); retry when it is done "
                + "(or stop it), or wait longer with AMBER_LEASE_TIMEOUT=SECONDS"
        case .inputChanged(let path):
            return "\(path) changed size while it was being read; retry when nothing is writing to it"
        case .chunkTooLarge(let size):
            return "a chunk of \(size) bytes is larger than the store allows (at most 16 MiB)"
        case .badRecord(let name, let reason):
            return
                "record \(name) in the store is damaged (\(reason)); `amber store recover` rewrites it from the catalog's row if there is one"
        case .keyNeeded(let path):
            return "store \(path) is encrypted: give its key with --key-file FILE or AMBER_KEY_FILE"
        case .newKeyNeeded(let path, let option):
            return "a new key for store \(path) is needed: give a passphrase file with \(option), or run on a terminal to type one"
        case .wrongKey(let path, let source):
            return "wrong key for store \(path): no key slot opens with the key from \(source)"
        case .badKeyFile(let path, let reason):
            return "key file \(path) cannot be used (\(reason)); give a file holding the passphrase or a key from `amber store key export`"
        case .noUsableKeySlot(let path, let damaged):
            return
                "store \(path) has no usable key slot (damaged: \(damaged.isEmpty ? "none; keys/ is empty" : damaged.joined(separator: ", "))); "
                + "open it with the recovery key from `amber store key export` (--key-file)"
        case .keySlot(let what, let reason):
            return "\(what): \(reason)"
        case .plainMarkerWithKeys(let path):
            return "store \(path) has key slots (keys/) but its STORE file says it is not encrypted: the file is damaged or was "
                + "rewritten; restore STORE from a backup (format 2 with its encryption and key-check lines) rather than "
                + "let amber write unencrypted data into an encrypted store"
        case .storeExists(let path):
            return "\(path) already holds a store; `amber store init` only creates a new one (use another --home)"
        case .invalidChunkSize(let size):
            return "chunk size \(size) is invalid; use a power of two between 4 KiB and 16 MiB"
        }
    }

    /// The errno under `.io` and `.noSpace` (ENOSPC: the failed write's own, ENOSPC or EDQUOT, became this one message).
    public var cause: FailureCause? {
        switch self {
        case .io(_, let cause): return cause
        case .noSpace: return FailureCause(errno: ENOSPC)
        default: return nil
        }
    }

    /// Maps a failed system call to a store error, turning a full disk into `.noSpace`.
    static func from(_ error: Error, path: String) -> Error {
        if let system = error as? SystemError, system.errno == ENOSPC || system.errno == EDQUOT {
            return StoreError.noSpace(path: path)
        }
        return error
    }
}
