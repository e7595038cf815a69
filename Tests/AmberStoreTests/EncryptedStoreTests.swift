import AmberModel
@testable import AmberStore
import AmberTestSupport
import Foundation
import Testing

/// An encrypted store seen from inside: key slots, keyed chunk names, sealed payloads and record files.
@Suite struct EncryptedStoreTests {
    static let passphrase = Array("correct horse battery staple".utf8)

    /// A new encrypted store (fast scrypt parameters) opened with `passphrase` from a key file.
    func encryptedStore(chunkSize: Int = 4096) throws -> TestStore {
        let directory = try TemporaryDirectory()
        let storeDirectory = directory.url.appendingPathComponent("store")
        try ChunkStore.createEncrypted(
            directory: storeDirectory, chunkSize: chunkSize, passphrase: Self.passphrase,
            parameters: .fastForTests)
        try Data(Self.passphrase + [10]).write(to: URL(fileURLWithPath: directory.path("key")))
        let store = try ChunkStore(directory: storeDirectory, key: StoreKeyInput(keyFile: directory.path("key")))
        return TestStore(directory: directory, store: store)
    }

    func filesUnder(_ url: URL) -> [URL] {
        (FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
    }

    @Test func aKeySlotOpensWithItsPassphraseOnlyAndReencodesToItself() throws {
        let master = StoreKeys.randomMaster()
        let slot = try KeySlot.make(master: master, passphrase: Self.passphrase, parameters: .fastForTests)
        let parsed = try KeySlot.parse(slot.encoded())
        #expect(parsed == slot)
        #expect(try parsed.open(passphrase: Self.passphrase) == master)
        #expect(try parsed.open(passphrase: Array("another".utf8)) == nil)

        var flipped = slot.encoded()
        flipped[60] ^= 1
        #expect(throws: KeySlotDefect.self) { try KeySlot.parse(flipped) }
        // A slot whose parameters were changed and its checksum recomputed parses, but its GCM tag (over the
        // parameters) no longer opens: nothing but the passphrase's own derivation yields the key.
        var altered = slot
        altered.parameters = ScryptParameters(n: 1 << 11, r: 8, p: 1)
        #expect(try KeySlot.parse(altered.encoded()).open(passphrase: Self.passphrase) == nil)
    }

    @Test func scryptParametersAreBoundedBeforeUse() {
        #expect(ScryptParameters.default.problem == nil)
        #expect(ScryptParameters(n: 1 << 21, r: 8, p: 1).problem != nil)
        #expect(ScryptParameters(n: 3000, r: 8, p: 1).problem != nil)
        #expect(ScryptParameters(n: 1 << 20, r: 16, p: 16).problem != nil)
        #expect(ScryptParameters(n: 1 << 15, r: 0, p: 1).problem != nil)
    }

    @Test func contentRoundTripsWithKeyedNamesAndNothingInTheClear() throws {
        let test = try encryptedStore()
        let marker = Array("THE-MARKER-STRING-".utf8)
        var image = [UInt8]()
        while image.count < 200_000 { image += marker + TestContent.random(100, seed: UInt64(image.count)) }
        let result = try test.ingest(image)
        #expect(try test.export(result.manifest) == image)
        // Keyed names: the digest of the first chunk is not its SHA-256.
        let first = Array(image[0..<4096])
        let digest = test.store.namer.digest(of: first)
        #expect(digest != first.withUnsafeBytes { ChunkDigest.of($0) })
        #expect(try test.reader.chunk(digest) == first)
        for file in filesUnder(test.store.directory) {
            let bytes = try Data(contentsOf: file)
            #expect(bytes.range(of: Data(marker)) == nil, "\(file.path) holds the marker in the clear")
        }
        // A pack scan (recover) reads the sealed records back.
        for name in try test.store.packFileNames() {
            let scan = try test.reader.scanPack(name)
            #expect(scan.damaged.isEmpty && scan.stopReason == nil && !scan.records.isEmpty)
        }
    }

    @Test func deltaRecordsAreSealedAndRebuild() throws {
        let test = try encryptedStore()
        // Four pages, one of them changed: a delta (at most half the pages may differ).
        let base = TestContent.text(16384, seed: 1)
        var changed = base
        changed.replaceSubrange(0..<100, with: TestContent.random(100, seed: 2))
        let baseDigest = try test.index.write(to: test.store) { try $0.put(base) }
        let pages = changed
        let (digest, commit) = try test.store.write(index: test.index) { writer in
            try pages.withUnsafeBytes { try writer.put($0, deltaBase: baseDigest) }
        } commit: { sealed, digest in
            test.index.record(sealed)
            return (digest, sealed)
        }
        #expect(commit.newChunks.first?.location.codec == .delta)
        #expect(try test.reader.chunk(digest) == pages)
    }

    @Test func aPayloadUnderAnotherRecordsHeaderDoesNotOpen() throws {
        let test = try encryptedStore()
        let a = TestContent.random(4096, seed: 10), b = TestContent.random(4096, seed: 12)
        #expect(a != b)
        let (digestA, digestB) = try test.index.write(to: test.store) { (try $0.put(a), try $0.put(b)) }
        let locations = try test.index.locations(of: [digestA, digestB])
        let locationA = try #require(locations[digestA]), locationB = try #require(locations[digestB])
        // Same lengths, so the headers stay valid for the index: only the seal's additional data tells.
        let pack = test.store.packPath(locationA.pack)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: pack))
        let header = UInt64(PackFormat.recordHeaderSize)
        try handle.seek(toOffset: locationA.offset + header)
        let payloadA = handle.readData(ofLength: locationA.storedLength)
        try handle.seek(toOffset: locationB.offset + header)
        let payloadB = handle.readData(ofLength: locationB.storedLength)
        try handle.seek(toOffset: locationA.offset + header)
        handle.write(payloadB)
        try handle.seek(toOffset: locationB.offset + header)
        handle.write(payloadA)
        try handle.close()
        #expect { try test.reader.chunk(digestA) } throws: { error in
            guard case StoreError.corruptChunk(_, _, _, let reason) = error else { return false }
            return reason.contains("does not open")
        }
    }

    @Test func recordFilesAreSealedAndRefusedWithoutTheKey() throws {
        let test = try encryptedStore()
        let description = ImageDescription(
            name: "base", manifest: String(repeating: "ab", count: 32), logicalBytes: 1,
            storedBytes: 1, chunkSize: 4096, created: 1_765_000_000)
        try test.store.records.save(StoredRecord(description: description))
        let file = try Data(contentsOf: URL(fileURLWithPath: test.store.records.path(.image, key: "base")))
        #expect(String(decoding: file.prefix(16), as: UTF8.self) == "amber-record 2 i")
        #expect(file.range(of: Data(String(repeating: "ab", count: 32).utf8)) == nil)
        #expect(try test.store.records.load(ImageDescription.self, key: "base")?.description == description)
        #expect(throws: StoreError.self) {
            try RecordDirectory(storeDirectory: test.store.directory).load(ImageDescription.self, key: "base")
        }
    }

    @Test func theWrongKeyAndNoKeyAreRefusedAndAPlainStoreStaysFormatOne() throws {
        let test = try encryptedStore()
        try Data("not it".utf8).write(to: URL(fileURLWithPath: test.directory.path("wrong")))
        StoreUnlock.forget()
        #expect(throws: StoreError.wrongKey(path: test.store.directory.path, source: test.directory.path("wrong"))) {
            try ChunkStore(directory: test.store.directory, key: StoreKeyInput(keyFile: test.directory.path("wrong")))
        }
        #expect(throws: StoreError.keyNeeded(path: test.store.directory.path)) {
            try ChunkStore(directory: test.store.directory, key: StoreKeyInput(keyFile: nil, promptsOnTerminal: false))
        }
        let plain = try TestStore()
        let marker = try String(contentsOf: plain.store.directory.appendingPathComponent("STORE"), encoding: .utf8)
        #expect(marker == "amber-store\nformat 1\nchunk-size 65536\n")
    }
}
