import Foundation
import Glibc

/// What opens an encrypted store: a passphrase (tried against every key slot), or the master key itself
/// (a recovery key written by `amber store key export`, which needs no slot).
public enum KeyMaterial: Sendable, Equatable {
    case passphrase([UInt8])
    case masterKey([UInt8])

    /// The first line of a recovery key file; the second is the master key in hex.
    public static let recoveryHeader = "amber-master-key 1"
    /// A key file is a passphrase or a recovery key, never more than this.
    public static let maxFileSize = 4096

    /// Reads a key file: a recovery key when it starts with `recoveryHeader`, else its bytes (one trailing
    /// newline stripped) are the passphrase. Empty files and files over 4 KiB are refused.
    public static func read(file path: String) throws -> KeyMaterial {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.badKeyFile(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: maxFileSize + 1)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw StoreError.badKeyFile(path: path, reason: String(cString: strerror(errno))) }
            if count == 0 { break }
            filled += count
        }
        guard filled <= maxFileSize else { throw StoreError.badKeyFile(path: path, reason: "longer than \(maxFileSize) bytes") }
        return try parse(Array(buffer[0..<filled]), path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> KeyMaterial {
        var bytes = bytes
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        guard !bytes.isEmpty else { throw StoreError.badKeyFile(path: path, reason: "empty") }
        let header = Array(recoveryHeader.utf8)
        guard bytes.starts(with: header + [UInt8(ascii: "\n")]) else { return .passphrase(bytes) }
        let hex = String(decoding: bytes[(header.count + 1)...], as: UTF8.self)
        guard let key = Hex.decode(Substring(hex)), key.count == StoreKeys.masterKeySize else {
            throw StoreError.badKeyFile(path: path, reason: "a recovery key file whose second line is not 64 hex digits")
        }
        return .masterKey(key)
    }

    /// The contents of a recovery key file for `master`.
    public static func recoveryFile(master: [UInt8]) -> [UInt8] {
        Array("\(recoveryHeader)\n\(Hex.encode(master))\n".utf8)
    }
}

/// Where a command takes an encrypted store's key from: `--key-file`, else `$AMBER_KEY_FILE` (the caller
/// folds both into `keyFile`), else a passphrase typed on the terminal when standard input is one.
public struct StoreKeyInput: Sendable {
    public var keyFile: String?
    public var promptsOnTerminal: Bool

    public init(keyFile: String? = nil, promptsOnTerminal: Bool = true) {
        self.keyFile = keyFile
        self.promptsOnTerminal = promptsOnTerminal
    }

    /// `--key-file` when given, else `$AMBER_KEY_FILE` when set and not empty.
    public static func resolving(keyFile: String?) -> StoreKeyInput {
        if let keyFile, !keyFile.isEmpty { return StoreKeyInput(keyFile: keyFile) }
        let environment = ProcessInfo.processInfo.environment["AMBER_KEY_FILE"]
        return StoreKeyInput(keyFile: environment?.isEmpty == false ? environment : nil)
    }

    /// A new key (creating a store or a slot): a typed passphrase is asked for twice. `option` is how the
    /// command takes a key file (`--key-file`, `--new-key-file`), for the error when there is none.
    public func newKeyMaterial(storePath: String, option: String = "--key-file") throws -> KeyMaterial {
        do {
            return try material(storePath: storePath, confirm: true)
        } catch StoreError.keyNeeded {
            throw StoreError.newKeyNeeded(
                path: storePath, option: option == "--key-file" ? "--key-file FILE or AMBER_KEY_FILE" : option + " FILE")
        }
    }

    /// The key material for the store at `storePath`; `confirm` asks twice.
    func material(storePath: String, confirm: Bool = false) throws -> KeyMaterial {
        if let keyFile { return try KeyMaterial.read(file: keyFile) }
        if promptsOnTerminal, isatty(STDIN_FILENO) == 1 {
            guard let first = try PassphrasePrompt.read("passphrase for store \(storePath): ") else {
                throw StoreError.keyNeeded(path: storePath)
            }
            if confirm {
                guard try PassphrasePrompt.read("the same passphrase again: ") == first else {
                    throw StoreError.badKeyFile(path: "(terminal)", reason: "the two passphrases differ")
                }
            }
            return .passphrase(first)
        }
        throw StoreError.keyNeeded(path: storePath)
    }
}
