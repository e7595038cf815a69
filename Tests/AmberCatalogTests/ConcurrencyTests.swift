import AmberCatalog
import Dispatch
import Foundation
import Testing

@Suite struct CatalogConcurrencyTests {
    /// Two connections (as two processes would have) writing at once: WAL plus the busy timeout make
    /// every write land, none is lost or refused.
    @Test func twoConnectionsWritingAtOnceLoseNothing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("catalog.db")
        let catalogs = [try Catalog(path: path), try Catalog(path: path)]
        let failures = NSLock()
        var errors: [Error] = []
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            for n in 0..<200 {
                do {
                    try catalogs[writer].write { db in
                        let name = "w\(writer)-\(n)"
                        try db.addChunks([ChunkRecord(digest: Array((name + String(repeating: "-", count: 32)).utf8.prefix(32)), pack: name,
                                                      offset: 16, storedLength: 1, rawLength: 1, codec: 0)],
                                         packs: [PackRecord(name: name, length: 73)])
                    }
                } catch {
                    failures.lock(); errors.append(error); failures.unlock()
                }
            }
        }
        #expect(errors.isEmpty, "\(errors)")
        #expect(try Catalog(path: path).read { try $0.chunkTotals().chunks } == 400)
    }
}
