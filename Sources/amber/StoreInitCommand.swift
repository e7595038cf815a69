import AmberCommandLine
import AmberCore
import AmberStore
import ArgumentParser
import Foundation

struct StoreInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the home's store; with --encrypt, one whose chunks and records are encrypted (AES-256-GCM).",
        discussion: """
            The key is a passphrase: from --key-file FILE (the file's bytes, one trailing newline stripped), else \
            $AMBER_KEY_FILE, else typed twice on the terminal. It goes into a key slot (store/keys/), never into the \
            store in the clear; every later command takes it the same way. Back the key up with \
            `amber store key export`: without a key nothing in an encrypted store can be read.
            """)

    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Encrypt the store.") var encrypt = false
    @Option(name: .long, help: "Chunk size in bytes (a power of two from 4096 to 16777216).") var chunkSize = ChunkStore.defaultChunkSize

    func run() throws {
        let amberHome = home.resolved
        let store = amberHome.storeDirectory
        if FileManager.default.fileExists(atPath: store.appendingPathComponent("STORE").path) {
            throw StoreError.storeExists(path: store.path)
        }
        // The key first: a command that cannot get one leaves nothing behind.
        let material = encrypt ? try amberHome.keyInput.newKeyMaterial(storePath: store.path) : nil
        try FileManager.default.createDirectory(
            at: amberHome.root, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        guard let material else {
            _ = try ChunkStore(directory: store, chunkSize: chunkSize)
            return print("created a store in \(store.path)")
        }
        guard case .passphrase(let passphrase) = material else {
            throw StoreError.badKeyFile(
                path: amberHome.keyInput.keyFile ?? "-", reason: "it holds a master key; a new store needs a passphrase")
        }
        let slot = try ChunkStore.createEncrypted(directory: store, chunkSize: chunkSize, passphrase: passphrase)
        print("created an encrypted store in \(store.path) (key slot \(slot)); back its key up with `amber store key export FILE`")
    }
}
