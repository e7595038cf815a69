import AmberCommandLine
import AmberCore
import AmberStore
import ArgumentParser
import Foundation

struct StoreKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "List, add, remove and export the keys of an encrypted store.",
        discussion: """
            Each key slot (store/keys/<id>) holds the store's master key wrapped under one passphrase. Removing a \
            slot revokes that passphrase, but not a master key someone already exported or took from a slot they \
            could open (as restic's `key remove`): for that, copy the data into a new store.
            """,
        subcommands: [StoreKeyList.self, StoreKeyAdd.self, StoreKeyRemove.self, StoreKeyExport.self])
}

struct StoreKeyList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "The store's key slots (needs no key).", aliases: ["list"])

    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Print the slots as JSON.") var json = false

    func run() throws {
        let store = home.resolved.storeDirectory
        guard try ChunkStore.isEncrypted(directory: store) else {
            throw StoreError.keySlot(what: "store \(store.path)", reason: "is not encrypted; it has no keys")
        }
        let slots = try ChunkStore.listKeySlots(directory: store)
        if json { return try printJSON(slots) }
        for slot in slots {
            if let damaged = slot.damaged {
                print("\(slot.id)  DAMAGED: \(damaged)")
            } else {
                print("\(slot.id)  created \(slot.created.map(TimeText.utc) ?? "?")  \(slot.kdf ?? "")")
            }
        }
    }
}

struct StoreKeyAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a key slot for another passphrase (needs the current key).")

    @OptionGroup var home: HomeOption
    @Option(name: .long, help: "File holding the new passphrase (default: typed twice on the terminal).") var newKeyFile: String?

    func run() throws {
        let amberHome = home.resolved
        let store = try ChunkStore(directory: amberHome.storeDirectory, key: amberHome.keyInput)
        let input = StoreKeyInput(keyFile: newKeyFile)
        guard case .passphrase(let passphrase) = try input.newKeyMaterial(storePath: store.directory.path, option: "--new-key-file") else {
            throw StoreError.badKeyFile(path: newKeyFile ?? "-", reason: "it holds a master key; a key slot needs a passphrase")
        }
        let slot = try store.addKeySlot(passphrase: passphrase)
        print("added key slot \(slot.id)")
    }
}

struct StoreKeyRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a key slot (revokes its passphrase, not an exported master key).")

    @OptionGroup var home: HomeOption
    @Argument(help: "The slot's id (`amber store key ls`).") var id: String
    @Flag(name: .long, help: "Also remove the last slot, or the slot the key given opened.") var force = false

    func run() throws {
        let amberHome = home.resolved
        let store = try ChunkStore(directory: amberHome.storeDirectory, key: amberHome.keyInput)
        try store.removeKeySlot(id: id, force: force)
        print("removed key slot \(id); a master key exported earlier (`amber store key export`) still opens the store")
    }
}

struct StoreKeyExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the store's master key to a new owner-only file (a recovery key for --key-file).")

    @OptionGroup var home: HomeOption
    @Argument(help: "The file to create.") var output: String

    func run() throws {
        let amberHome = home.resolved
        let store = try ChunkStore(directory: amberHome.storeDirectory, key: amberHome.keyInput)
        try store.exportMasterKey(to: output)
        print("wrote the master key of \(store.directory.path) to \(output); keep it safe: it opens the store whatever its key slots")
    }
}
