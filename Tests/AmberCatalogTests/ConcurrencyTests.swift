import AmberCatalog
import AmberModel
import AmberTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

@Suite struct CatalogConcurrencyTests {
    /// Two connections (as two processes would have) writing at once: WAL plus the busy timeout make
    /// every write land, none is lost or refused.
    @Test func twoConnectionsWritingAtOnceLoseNothing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("catalog.db")
        let catalogs = [try Catalog(path: path), try Catalog(path: path)]
        let errors = Mutex<[Error]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            for n in 0..<200 {
                do {
                    try catalogs[writer].write { db in
                        let name = "w\(writer)-\(n)"
                        let digest = ChunkDigest(bytes: Array((name + String(repeating: "-", count: 32)).utf8.prefix(32)))!
                        try db.addChunks(
                            [
                                StoredChunk(
                                    digest: digest,
                                    location: ChunkLocation(
                                        pack: name, offset: 16, storedLength: 1,
                                        rawLength: 1, codec: .raw))
                            ],
                            packs: [PackExtent(name: name, length: 73)])
                    }
                } catch {
                    errors.withLock { $0.append(error) }
                }
            }
        }
        let failures = errors.withLock { $0 }
        #expect(failures.isEmpty, "\(failures)")
        #expect(try Catalog(path: path).read { try $0.chunkTotals().chunks } == 400)
    }

    /// A second catalog opened in a process that already has one open must not drop the first's locks (a stray
    /// close of the database file does, under POSIX lock rules): another process closing the catalog would then
    /// take itself for the last connection, checkpoint and delete the WAL, and this process's commits would be
    /// lost with "disk I/O error" (seen in amberd while its gc child closed the catalog).
    @Test func anotherProcessClosingTheCatalogDoesNotPullTheWALFromUnderThisOne() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("catalog.db")
        let first = try Catalog(path: path)
        try first.write { try $0.insertVM(VMRecord(name: "one", config: "{}", created: Date())) }
        let second = try Catalog(path: path)
        for round in 0..<3 {
            let other = Process()
            other.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            other.arguments = [path, "SELECT count(*) FROM vms"]
            other.standardOutput = FileHandle.nullDevice
            try other.run()
            other.waitUntilExit()
            #expect(other.terminationStatus == 0)
            try first.write { try $0.insertVM(VMRecord(name: "first-\(round)", config: "{}", created: Date())) }
            try second.write { try $0.insertVM(VMRecord(name: "second-\(round)", config: "{}", created: Date())) }
        }
        #expect(try first.read { try $0.vms().count } == 7)
        #expect(try Catalog(path: path).read { try $0.vms().count } == 7)
    }
}
