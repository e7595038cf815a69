import AmberStore
import AmberTestSupport
import Glibc
import Foundation
import Testing

@Suite struct StoreDirectoryTests {
    @Test func createsAStoreInAnEmptyOrMissingDirectoryAndReopensIt() throws {
        let directory = try TemporaryDirectory()
        let created = try ChunkStore(directory: directory.url.appendingPathComponent("new"), chunkSize: 16384)
        #expect(created.chunkSize == 16384)
        let reopened = try ChunkStore(directory: directory.url.appendingPathComponent("new"))
        #expect(reopened.chunkSize == 16384)
        let empty = directory.url.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        _ = try ChunkStore(directory: empty)
        #expect(FileManager.default.fileExists(atPath: empty.appendingPathComponent("STORE").path))
    }

    @Test func refusesADirectoryThatIsNotAStore() throws {
        let directory = try TemporaryDirectory()
        try Data("hello".utf8).write(to: directory.url.appendingPathComponent("notes.txt"))
        #expect(throws: StoreError.notAStore(path: directory.url.path)) {
            try ChunkStore(directory: directory.url)
        }
        let file = directory.url.appendingPathComponent("notes.txt")
        #expect(throws: StoreError.notAStore(path: file.path)) { try ChunkStore(directory: file) }
    }

    @Test func refusesAStoreFromANewerFormat() throws {
        let directory = try TemporaryDirectory()
        try Data("amber-store\nformat 9\nchunk-size 65536\n".utf8).write(to: directory.url.appendingPathComponent("STORE"))
        #expect(throws: StoreError.newerFormat(path: directory.url.path, version: 9)) {
            try ChunkStore(directory: directory.url)
        }
    }

    @Test func refusesChunkSizesThatAreNotPowersOfTwo() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: StoreError.invalidChunkSize(5000)) {
            try ChunkStore(directory: directory.url.appendingPathComponent("s"), chunkSize: 5000)
        }
    }

    @Test func ingestRefusesMissingFilesAndDirectories() throws {
        let test = try TestStore()
        let writer = try StoreWriter(store: test.store, index: test.index)
        defer { writer.finish(committed: false) }
        #expect(throws: StoreError.unsupportedSource(path: test.directory.url.path, kind: "a directory")) {
            try writer.ingest(file: test.directory.url.path)
        }
        do {
            _ = try writer.ingest(file: test.directory.path("absent"))
            Issue.record("ingest of a missing file succeeded")
        } catch {
            #expect("\(error)".contains("no such file"))
        }
    }
}

@Suite struct GroupReadableStoreTests {
    /// New packs in a packs directory that grants its group read (a store shared with `amber store share`)
    /// are group-readable; in an owner-only one they are owner-only. (The umask is the process's, shared with
    /// the tests running beside this one: `CLIStoreShareTests` runs amber under umask 077.)
    @Test func newPacksTakeTheirDirectorysGroupRead() throws {
        for shared in [false, true] {
            let test = try TestStore()
            let packs = test.store.directory.appendingPathComponent("packs").path
            #expect(chmod(packs, shared ? 0o2750 : 0o700) == 0)
            try test.ingest(TestContent.random(1 << 20, seed: 7))
            let names = try test.store.packFileNames()
            #expect(names.count == 1)
            var info = stat()
            #expect(stat(test.store.packPath(names[0]), &info) == 0)
            #expect(info.st_mode & 0o777 == (shared ? 0o640 : 0o600), "shared: \(shared)")
        }
    }
}
