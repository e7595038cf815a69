import AmberSystem
import Foundation
import Glibc
import Synchronization

/// An encrypted store's keys, and which slot gave them (nil: a recovery key, which needs none).
public struct UnlockedStore: Sendable {
    public let keys: StoreKeys
    public let slot: String?
}

/// Opens an encrypted store's master key from what `StoreKeyInput` gives: a recovery key directly, a
/// passphrase by trying every key slot. Each slot costs a scrypt derivation (about 0.1 s), and one command
/// may open the store more than once (its records and its packs), so what a process unlocked is kept for the
/// rest of it: a passphrase is asked for at most once.
public enum StoreUnlock {
    private static let cache = UnlockCache()

    /// `check` is the store's `key-check` (from `STORE`), which the master key must derive.
    public static func unlock(
        storeDirectory: URL, check: String, input: StoreKeyInput,
        warn: (String) -> Void = { StandardError.write("amber: \($0)\n") }
    ) throws -> UnlockedStore {
        let path = storeDirectory.path
        let cacheKey = path + "\u{0}" + (input.keyFile ?? "")
        if let known = cache.get(cacheKey) { return known }
        let source = input.keyFile ?? "the terminal"
        let unlocked: UnlockedStore
        switch try input.material(storePath: path) {
        case .masterKey(let master):
            let keys = StoreKeys(master: master)
            guard keys.check == check else { throw StoreError.wrongKey(path: path, source: source) }
            unlocked = UnlockedStore(keys: keys, slot: nil)
        case .passphrase(let passphrase):
            let (slots, damaged) = try KeySlotDirectory(storeDirectory: storeDirectory).load()
            for bad in damaged {
                warn("key slot \(bad.file) is damaged (\(bad.reason)); trying the other slots")
            }
            var opened: UnlockedStore?
            for slot in slots {
                guard let master = try slot.open(passphrase: passphrase) else { continue }
                let keys = StoreKeys(master: master)
                guard keys.check == check else {
                    warn("key slot \(slot.id) holds the key of another store; ignored")
                    continue
                }
                opened = UnlockedStore(keys: keys, slot: slot.id)
                break
            }
            guard let opened else {
                if slots.isEmpty { throw StoreError.noUsableKeySlot(path: path, damaged: damaged.map(\.file)) }
                throw StoreError.wrongKey(path: path, source: source)
            }
            unlocked = opened
        }
        cache.set(cacheKey, unlocked)
        return unlocked
    }

    /// Forgets what this process unlocked (after `key rm`, so the removed key is not remembered).
    public static func forget() {
        cache.clear()
    }
}

private final class UnlockCache: Sendable {
    private let unlocked = Mutex<[String: UnlockedStore]>([:])

    func get(_ path: String) -> UnlockedStore? {
        unlocked.withLock { $0[path] }
    }

    func clear() {
        unlocked.withLock { $0 = [:] }
    }

    func set(_ path: String, _ value: UnlockedStore?) {
        unlocked.withLock { $0[path] = value }
    }
}
