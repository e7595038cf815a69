import AmberCatalog
import AmberTestSupport
import Foundation
import Testing

@Suite struct MigrationTests {
    @Test func aNewCatalogHasEveryMigrationAndReopensUnchanged() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("catalog.db")
        let first = try Catalog(path: path)
        #expect(try first.appliedMigrations() == Catalog.knownMigrations)
        try first.write {
            try $0.insertImage(
                ImageRecord(name: "kernel", manifest: digest(1), logicalBytes: 1, storedBytes: 1, chunkSize: 65536, created: Date()))
        }
        let second = try Catalog(path: path)
        #expect(try second.appliedMigrations() == Catalog.knownMigrations)
        #expect(try second.read { try $0.images().map(\.name) } == ["kernel"])
        let mode = try second.read { db -> String in
            let row = try db.statement("PRAGMA journal_mode")
            _ = try row.step()
            return row.text(0)
        }
        #expect(mode == "wal")
    }

    @Test func refusesACatalogFromANewerAmber() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("catalog.db")
        let catalog = try Catalog(path: path)
        try catalog.write { try $0.execute("INSERT INTO schema_migrations (name, applied) VALUES ('0099-from-the-future', 0)") }
        #expect(throws: CatalogError.newerSchema(path: path, migration: "0099-from-the-future")) {
            try Catalog(path: path)
        }
    }

    @Test func refusesAFileThatIsNotSQLiteAndADirectory() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("catalog.db")
        try Data(String(repeating: "not a database ", count: 100).utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: CatalogError.notACatalog(path: path)) { try Catalog(path: path) }
        #expect(throws: CatalogError.notACatalog(path: directory.url.path)) { try Catalog(path: directory.url.path) }
        #expect("\(CatalogError.notACatalog(path: path))".contains(path))
    }
}
