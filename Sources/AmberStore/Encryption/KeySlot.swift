import Crypto
import Foundation

/// One key slot, `store/keys/<id>`: the store's master key wrapped (AES-256-GCM) under a key derived from one
/// passphrase with scrypt. A store has one slot per passphrase or key file that may open it, so access can be
/// added and revoked without re-encrypting anything (as restic's key files and LUKS's key slots do). The file
/// is ASCII, one `name value` line each, in this order:
///
///     amber-key-slot 1
///     id <16 hex>
///     created <seconds since 1970>
///     kdf scrypt
///     scrypt-n <N>
///     scrypt-r <r>
///     scrypt-p <p>
///     salt <hex, 16 to 64 bytes>
///     master-key <hex: nonce, wrapped key, tag (60 bytes)>
///     checksum <SHA-256 of every byte before this line, hex>
///
/// The checksum tells a damaged slot (reported, naming the file) from a slot that the key does not open; the
/// GCM tag authenticates the wrapped key and every line before it (its additional data), so neither the KDF
/// parameters nor the id can be changed without the slot failing to open.
public struct KeySlot: Sendable, Equatable {
    public static let formatVersion = 1
    public static let magic = "amber-key-slot"
    /// A slot is a few hundred bytes; anything past this is not one.
    public static let maxFileSize = 4096
    static let wrappedSize = PayloadSealer.overhead + StoreKeys.masterKeySize

    public var id: String
    public var created: Int64
    public var parameters: ScryptParameters
    public var salt: [UInt8]
    /// Nonce, encrypted master key and tag.
    public var wrapped: [UInt8]

    /// A new slot holding `master` wrapped under `passphrase`.
    public static func make(
        master: [UInt8], passphrase: [UInt8], parameters: ScryptParameters = .default,
        created: Date = Date()
    ) throws -> KeySlot {
        let id = Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        let salt = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        var slot = KeySlot(id: id, created: Int64(created.timeIntervalSince1970), parameters: parameters, salt: salt, wrapped: [])
        let wrapping = try parameters.derive(passphrase: passphrase, salt: salt)
        slot.wrapped = PayloadSealer(key: wrapping).seal(master, authenticating: Array(slot.authenticatedText.utf8))
        return slot
    }

    /// The master key, or nil when `passphrase` is not this slot's.
    public func open(passphrase: [UInt8]) throws -> [UInt8]? {
        let wrapping = try parameters.derive(passphrase: passphrase, salt: salt)
        guard let master = PayloadSealer(key: wrapping).open(wrapped, authenticating: Array(authenticatedText.utf8)),
            master.count == StoreKeys.masterKeySize
        else { return nil }
        return master
    }

    /// Every line before `master-key`: what the wrapped key is bound to.
    var authenticatedText: String {
        """
        \(Self.magic) \(Self.formatVersion)
        id \(id)
        created \(created)
        kdf scrypt
        scrypt-n \(parameters.n)
        scrypt-r \(parameters.r)
        scrypt-p \(parameters.p)
        salt \(Hex.encode(salt))

        """
    }

    public func encoded() -> [UInt8] {
        let body = authenticatedText + "master-key \(Hex.encode(wrapped))\n"
        let checksum = Hex.encode(SHA256.hash(data: Array(body.utf8)).withUnsafeBytes { Array($0) })
        return Array((body + "checksum \(checksum)\n").utf8)
    }

    /// Parses a slot file, bounding every number before it is used; the error says what is wrong in one line.
    public static func parse(_ bytes: [UInt8]) throws -> KeySlot {
        func refuse(_ reason: String) -> KeySlotDefect { KeySlotDefect(reason: reason) }
        guard !bytes.isEmpty else { throw refuse("empty file") }
        guard bytes.count <= maxFileSize else { throw refuse("\(bytes.count) bytes, more than a key slot holds (\(maxFileSize))") }
        guard bytes.last == UInt8(ascii: "\n"), String(validating: bytes, as: UTF8.self) != nil,
            !bytes.contains(0)
        else { throw refuse("not a text file ending in a newline") }
        // Lines are split on the newline byte, not on Characters: Swift takes "\r\n" for one Character, which
        // would hide a line break inside a "line" (found by the key-slot fuzzer).
        let lines = bytes.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        let names = ["id", "created", "kdf", "scrypt-n", "scrypt-r", "scrypt-p", "salt", "master-key", "checksum"]
        guard let first = lines.first, first.hasPrefix(magic + " ") else { throw refuse("no \(magic) header") }
        guard let version = Int(first.dropFirst(magic.count + 1)), version >= 1 else { throw refuse("no \(magic) header") }
        guard version <= formatVersion else {
            throw refuse("key slot format \(version) is newer than this amber understands; upgrade amber")
        }
        guard lines.count == names.count + 1 else { throw refuse("\(lines.count) lines, a key slot has \(names.count + 1)") }
        var values: [String: Substring] = [:]
        for (name, line) in zip(names, lines.dropFirst()) {
            guard line.hasPrefix(name + " ") else { throw refuse("line '\(printable(line.prefix(24)))' where '\(name)' belongs") }
            values[name] = line.dropFirst(name.count + 1)
        }
        let checked = bytes.count - (lines.last!.utf8.count + 1)
        let checksum = Hex.encode(SHA256.hash(data: bytes[0..<checked]).withUnsafeBytes { Array($0) })
        guard values["checksum"]! == checksum else { throw refuse("checksum mismatch (the file is damaged)") }
        let id = values["id"]!
        guard id.utf8.count == 16, Hex.decode(id) != nil else { throw refuse("id is not 16 hex digits") }
        guard let created = Int64(values["created"]!), (0...100_000_000_000).contains(created) else { throw refuse("bad creation time") }
        guard values["kdf"]! == "scrypt" else { throw refuse("unknown key derivation '\(printable(values["kdf"]!.prefix(24)))'") }
        guard let n = Int(values["scrypt-n"]!), let r = Int(values["scrypt-r"]!), let p = Int(values["scrypt-p"]!) else {
            throw refuse("scrypt parameters are not numbers")
        }
        let parameters = ScryptParameters(n: n, r: r, p: p)
        if let problem = parameters.problem { throw refuse(problem) }
        guard let salt = Hex.decode(values["salt"]!), (16...64).contains(salt.count) else {
            throw refuse("salt is not 16 to 64 bytes of hex")
        }
        guard let wrapped = Hex.decode(values["master-key"]!), wrapped.count == wrappedSize else {
            throw refuse("wrapped master key is not \(wrappedSize) bytes of hex")
        }
        return KeySlot(id: String(id), created: created, parameters: parameters, salt: salt, wrapped: wrapped)
    }
}

/// `text` as it can go into a one-line message: control characters shown as `?`.
private func printable<S: StringProtocol>(_ text: S) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
}

/// Why a key slot file cannot be used.
public struct KeySlotDefect: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public var description: String { reason }
}
