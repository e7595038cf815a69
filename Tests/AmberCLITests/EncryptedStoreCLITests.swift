import AmberCatalog
@testable import AmberCore
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber store init --encrypt` and everything after it, through the real binary: no marker in the clear, exact
/// round trips, dedup, one-line refusals of a wrong or missing key, key rotation, damaged slots, recovery.
@Suite("Encrypted stores", .enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
struct EncryptedStoreCLITests {
    static let marker = "AMBER-SECRET-MARKER-7f3a9c"

    /// A home with an encrypted store, opened by the passphrase in `files/key1`.
    func encryptedHome() throws -> (CLIHome, key: String) {
        let home = try CLIHome()
        let key = try home.file("key1", Array("first passphrase\n".utf8))
        let created = try home.amber(["store", "init", "--encrypt", "--key-file", key])
        try #require(created.status == 0, "\(created.stderr)")
        return (home, key)
    }

    /// An image holding the marker many times between random bytes (so it is not all compressed away), and
    /// zeros.
    func markedImage(_ home: CLIHome, name: String = "marked.img") throws -> String {
        var bytes = [UInt8]()
        var seed: UInt64 = 1
        while bytes.count < 1 << 20 {
            bytes += Array(Self.marker.utf8) + TestContent.random(200, seed: seed)
            seed += 2
        }
        bytes += [UInt8](repeating: 0, count: 256 << 10) + TestContent.text(300_000, seed: 9)
        return try home.file(name, bytes)
    }

    func expectOneLineFailure(_ result: CLIResult, mentioning needle: String, _ what: String) {
        #expect([1, 65].contains(result.status), "\(what): exit \(result.status)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(what): \(result.stderr)")
        #expect(result.stderr.contains(needle), "\(what): \(result.stderr)")
    }

    func slots(_ home: CLIHome) throws -> [KeySlotListing] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode([KeySlotListing].self, from: Data(try home.amber(["store", "key", "list", "--json"]).stdout.utf8))
    }

    func storeFiles(_ home: CLIHome) -> [URL] {
        let store = home.root.appendingPathComponent("store")
        return (FileManager.default.enumerator(at: store, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
    }

    func packBytes(_ home: CLIHome) -> Int {
        storeFiles(home).filter { $0.pathExtension == "pack" }
            .reduce(0) { $0 + ((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
    }

    @Test func theMarkerIsNowhereInTheStoreAndExportIsExact() throws {
        let (home, key) = try encryptedHome()
        defer { home.remove() }
        let store = try String(contentsOf: home.root.appendingPathComponent("store/STORE"), encoding: .utf8)
        #expect(store.contains("format 2\n") && store.contains("encryption aes-256-gcm\n"))
        let image = try markedImage(home)
        let imported = try home.amber(["image", "import", image, "--name", "marked", "--key-file", key])
        try #require(imported.status == 0, "\(imported.stderr)")
        let files = storeFiles(home)
        #expect(files.contains { $0.pathExtension == "pack" } && files.contains { $0.path.contains("records/images/marked") })
        for file in files {
            let bytes = try Data(contentsOf: file)
            #expect(bytes.range(of: Data(Self.marker.utf8)) == nil, "\(file.path) holds the marker in the clear")
        }
        let out = home.scratch.appendingPathComponent("out.img").path
        let exported = try home.amber(["image", "export", "marked", out, "--key-file", key])
        try #require(exported.status == 0, "\(exported.stderr)")
        #expect(try TestContent.sha256(ofFile: out) == TestContent.sha256(ofFile: image))
        let verify = try home.amber(["store", "verify", "--key-file", key])
        #expect(verify.status == 0 && verify.stdout.hasPrefix("ok:"), "\(verify.stdout)\(verify.stderr)")
        // $AMBER_KEY_FILE is the same as --key-file.
        let listed = try home.amber(["image", "ls"], environment: ["AMBER_KEY_FILE": key])
        #expect(listed.status == 0 && listed.stdout.contains("marked"), "\(listed.stderr)")
    }

    @Test func dedupWorksInsideAndNamesDifferFromAPlainStore() throws {
        let (home, key) = try encryptedHome()
        defer { home.remove() }
        let image = try markedImage(home)
        #expect(try home.amber(["image", "import", image, "--name", "one", "--key-file", key]).status == 0)
        let once = packBytes(home)
        let again = try home.amber(["image", "import", image, "--name", "two", "--key-file", key])
        #expect(again.status == 0 && again.stdout.contains("stored 0 B"), "\(again.stdout)\(again.stderr)")
        #expect(packBytes(home) == once)

        let plain = try CLIHome()
        defer { plain.remove() }
        #expect(try plain.amber(["image", "import", image, "--name", "one"]).status == 0)
        func digests(_ home: CLIHome) throws -> Set<[UInt8]> {
            Set(try Catalog(path: home.root.appendingPathComponent("catalog.db").path).read { try $0.allChunks() }.map(\.digest))
        }
        let encryptedNames = try digests(home), plainNames = try digests(plain)
        #expect(encryptedNames.count == plainNames.count && !encryptedNames.isEmpty)
        #expect(encryptedNames.isDisjoint(with: plainNames))
        let plainStore = try String(contentsOf: plain.root.appendingPathComponent("store/STORE"), encoding: .utf8)
        #expect(plainStore == "amber-store\nformat 1\nchunk-size 65536\n")
    }

    @Test func aWrongOrMissingKeyIsOneLineAndWritesNothing() throws {
        let (home, key) = try encryptedHome()
        defer { home.remove() }
        #expect(try home.amber(["image", "import", try markedImage(home), "--name", "marked", "--key-file", key]).status == 0)
        let wrong = try home.file("wrong", Array("not the passphrase".utf8))
        let out = home.scratch.appendingPathComponent("never.img").path
        let reading: [[String]] = [
            ["image", "export", "marked", out], ["image", "ls"], ["store", "verify"], ["store", "recover"], ["store", "stats"],
            ["store", "gc"], ["store", "key", "export", out],
        ]
        // (`amber snapshots` reads only the catalog, which stays plaintext outside the store: it needs no key.)
        for command in reading {
            expectOneLineFailure(
                try home.amber(command + ["--key-file", wrong]), mentioning: "wrong key for store", command.joined(separator: " "))
            expectOneLineFailure(
                try home.amber(command, environment: ["AMBER_KEY_FILE": ""]),
                mentioning: "give its key with --key-file FILE or AMBER_KEY_FILE", command.joined(separator: " "))
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        let empty = try home.file("empty", [])
        expectOneLineFailure(try home.amber(["image", "ls", "--key-file", empty]), mentioning: "empty", "an empty key file")
        let again = try home.amber(["store", "init", "--encrypt", "--key-file", key])
        expectOneLineFailure(again, mentioning: "already holds a store", "a second init")
        let fresh = try CLIHome()
        defer { fresh.remove() }
        expectOneLineFailure(
            try fresh.amber(["store", "init", "--encrypt"], environment: ["AMBER_KEY_FILE": ""]),
            mentioning: "give a passphrase file with --key-file FILE or AMBER_KEY_FILE", "init without a key")
    }

    @Test func rotatedKeysReadTheDataAndTheRemovedOneIsRefused() throws {
        let (home, key1) = try encryptedHome()
        defer { home.remove() }
        let image = try markedImage(home)
        #expect(try home.amber(["image", "import", image, "--name", "marked", "--key-file", key1]).status == 0)
        let key2 = try home.file("key2", Array("second passphrase".utf8))
        let added = try home.amber(["store", "key", "add", "--new-key-file", key2, "--key-file", key1])
        try #require(added.status == 0, "\(added.stderr)")
        let slots = try slots(home)
        #expect(slots.count == 2)
        let first = try #require(slots.first { !added.stdout.contains($0.id) }).id

        expectOneLineFailure(
            try home.amber(["store", "key", "rm", first, "--key-file", key1]), mentioning: "the slot the key given opened",
            "removing the slot in use")
        let removed = try home.amber(["store", "key", "rm", first, "--key-file", key2])
        #expect(removed.status == 0, "\(removed.stderr)")
        let last = try #require(slots.first { $0.id != first }).id
        expectOneLineFailure(
            try home.amber(["store", "key", "rm", last, "--key-file", key2]), mentioning: "last usable slot",
            "removing the last slot")

        let out = home.scratch.appendingPathComponent("out.img").path
        let exported = try home.amber(["image", "export", "marked", out, "--key-file", key2])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(try TestContent.sha256(ofFile: out) == TestContent.sha256(ofFile: image))
        expectOneLineFailure(try home.amber(["image", "ls", "--key-file", key1]), mentioning: "wrong key for store", "the removed key")
        // gc rewrites sealed records as they are: after removing one of two images, the other still exports.
        #expect(
            try home.amber([
                "image", "import", try home.file("other.img", TestContent.random(300_000, seed: 5)),
                "--name", "other", "--key-file", key2,
            ]).status == 0)
        #expect(try home.amber(["image", "rm", "marked", "--key-file", key2]).status == 0)
        let gc = try home.amber(["store", "gc", "--key-file", key2])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try home.amber(["store", "verify", "--key-file", key2]).status == 0)
    }

    @Test func aDamagedSlotIsNamedAndTheRecoveryKeyOpensWhenNoSlotDoes() throws {
        let (home, key1) = try encryptedHome()
        defer { home.remove() }
        #expect(try home.amber(["image", "import", try markedImage(home), "--name", "marked", "--key-file", key1]).status == 0)
        let recovery = home.scratch.appendingPathComponent("recovery.key").path
        let exported = try home.amber(["store", "key", "export", recovery, "--key-file", key1])
        try #require(exported.status == 0, "\(exported.stderr)")
        var info = stat()
        #expect(stat(recovery, &info) == 0 && info.st_mode & 0o077 == 0)
        #expect(try String(contentsOfFile: recovery, encoding: .utf8).hasPrefix("amber-master-key 1\n"))

        let key2 = try home.file("key2", Array("second passphrase".utf8))
        let added = try home.amber(["store", "key", "add", "--new-key-file", key2, "--key-file", key1])
        try #require(added.status == 0, "\(added.stderr)")
        let slots = try slots(home)
        func damage(_ path: String) throws {
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0x20
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        // key1's slot damaged: key2 still opens the store, with a warning naming the damaged file.
        let slot1 = try #require(slots.first { !added.stdout.contains($0.id) }?.file)
        try damage(slot1)
        let withWarning = try home.amber(["image", "ls", "--key-file", key2])
        #expect(withWarning.status == 0 && withWarning.stderr.contains("key slot \(slot1) is damaged"), "\(withWarning.stderr)")
        let other = try #require(slots.first { $0.file != slot1 }?.file)
        try damage(other)
        let none = try home.amber(["image", "ls", "--key-file", key2])
        #expect(none.status == 1 && none.stderr.contains("no usable key slot"), "\(none.stderr)")
        #expect(none.stderr.split(separator: "\n").last?.contains("amber store key export") == true)
        let rescued = try home.amber(["image", "ls", "--key-file", recovery])
        #expect(rescued.status == 0 && rescued.stdout.contains("marked"), "\(rescued.stderr)")
    }

    /// STORE rewritten to say "plain" (damage or tampering): nothing opens the store as plain, so nothing is written
    /// into it unencrypted; with the marker put back, everything is there.
    @Test func aPlainMarkerBesideKeySlotsIsRefused() throws {
        let (home, key) = try encryptedHome()
        defer { home.remove() }
        let image = try markedImage(home)
        #expect(try home.amber(["image", "import", image, "--name", "marked", "--key-file", key]).status == 0)
        let marker = home.root.appendingPathComponent("store/STORE")
        let original = try Data(contentsOf: marker)
        try Data("amber-store\nformat 1\nchunk-size 65536\n".utf8).write(to: marker)
        let packs = packBytes(home)
        for arguments in [
            ["image", "import", image, "--name", "again"], ["image", "ls"], ["store", "verify"], ["snapshot", "rm", "0123456789abcdef"],
        ] {
            expectOneLineFailure(
                try home.amber(arguments), mentioning: "its STORE file says it is not encrypted", arguments.joined(separator: " "))
        }
        #expect(packBytes(home) == packs, "nothing was written")
        try original.write(to: marker)
        let out = home.scratch.appendingPathComponent("out.img").path
        #expect(try home.amber(["image", "export", "marked", out, "--key-file", key]).status == 0)
        #expect(try TestContent.sha256(ofFile: out) == TestContent.sha256(ofFile: image))
    }

    @Test func recoverRebuildsTheCatalogOfAnEncryptedStore() throws {
        let (home, key) = try encryptedHome()
        defer { home.remove() }
        let image = try markedImage(home)
        #expect(try home.amber(["image", "import", image, "--name", "marked", "--key-file", key]).status == 0)
        let other = try home.file("other.img", TestContent.text(500_000, seed: 3))
        #expect(try home.amber(["image", "import", other, "--name", "other", "--key-file", key]).status == 0)
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(at: home.root.appendingPathComponent("catalog.db" + suffix))
        }
        let recovered = try home.amber(["store", "recover", "--key-file", key])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        let listed = try home.amber(["image", "ls", "--key-file", key])
        #expect(listed.stdout.contains("marked") && listed.stdout.contains("other"), "\(listed.stdout)")
        let out = home.scratch.appendingPathComponent("out.img").path
        #expect(try home.amber(["image", "export", "marked", out, "--key-file", key]).status == 0)
        #expect(try TestContent.sha256(ofFile: out) == TestContent.sha256(ofFile: image))
    }

    /// A snapshot of a tiny guest whose disk holds the marker: neither its disk nor its memory shows in the store,
    /// a clone needs the key (one line without it), and works with it.
    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: "/dev/kvm")
                && FileManager.default.isExecutableFile(atPath: BuiltProducts.amberVMM.path)))
    func aSnapshotOfAGuestIsSealedAndClonesWithTheKey() throws {
        let (home, key) = try encryptedHome()
        defer {
            _ = try? home.amber(["stop", "enc-c", "--timeout", "5", "--key-file", key])
            _ = try? home.amber(["stop", "enc-t", "--timeout", "5", "--key-file", key])
            home.remove()
        }
        let kernel = try home.file("ticker.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.ticker))
        let disk = try markedImage(home, name: "disk.raw")
        let run = try home.amber(
            [
                "run", "enc-t", "--kernel", kernel, "--memory", "64M", "--vcpus", "1", "--disk", disk, "--detach",
                "--key-file", key,
            ], timeout: 30)
        try #require(run.status == 0, "\(run.stderr)")
        let wrong = try home.file("wrong", Array("not the passphrase".utf8))
        expectOneLineFailure(
            try home.amber(["snapshot", "enc-t", "--key-file", wrong], timeout: 60), mentioning: "wrong key for store",
            "snapshot with the wrong key")
        let taken = try home.amber(["snapshot", "enc-t", "--json", "--key-file", key], timeout: 120)
        try #require(taken.status == 0, "\(taken.stderr)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let snapshot = try decoder.decode(SnapshotSummary.self, from: Data(taken.stdout.utf8))
        for file in storeFiles(home) {
            #expect(try Data(contentsOf: file).range(of: Data(Self.marker.utf8)) == nil, "\(file.path) holds the marker in the clear")
        }
        expectOneLineFailure(
            try home.amber(
                ["clone", snapshot.id, "--name", "enc-c", "--detach"], timeout: 60,
                environment: ["AMBER_KEY_FILE": ""]),
            mentioning: "give its key with --key-file FILE or AMBER_KEY_FILE", "clone without a key")
        let clone = try home.amber(["clone", snapshot.id, "--name", "enc-c", "--detach", "--key-file", key], timeout: 120)
        #expect(clone.status == 0, "\(clone.stderr)")
        let verify = try home.amber(["store", "verify", "--key-file", key], timeout: 120)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }
}
