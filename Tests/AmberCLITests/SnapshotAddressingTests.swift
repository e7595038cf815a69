import AmberCatalog
import AmberCore
import AmberTestSupport
import Foundation
import Testing

/// Every command that takes a snapshot names it the same ways (docs/cli.md "Naming a snapshot"): id, unique
/// prefix, `latest`, label. Snapshots here are stored without a VM (`storeSynthetic`), so a rollback to one
/// is refused after the name is resolved, and its error names the snapshot the name resolved to.
@Suite("Snapshot addressing")
struct SnapshotAddressingTests {
    struct Stored {
        let home: CLIHome
        let a1: SnapshotSummary, a2: SnapshotSummary, b1: SnapshotSummary
    }

    /// VM a: a1 (label "before-upgrade", then a2 (label "shared"); VM b: b1 (label "shared"), the newest.
    static func store() throws -> Stored {
        let home = try CLIHome()
        let service = SnapshotService(home: AmberHome(explicit: home.root.path))
        func take(_ vm: String, _ label: String, _ seconds: Double) throws -> SnapshotSummary {
            let memory = [UInt8](repeating: UInt8(seconds), count: 64 << 10)
            return try memory.withUnsafeBytes {
                try service.storeSynthetic(
                    vm: vm, configJSON: "{}", created: Date(timeIntervalSince1970: 1_700_000_000 + seconds),
                    memory: $0, state: Array("state \(vm)".utf8), label: label)
            }
        }
        return Stored(home: home, a1: try take("a", "before-upgrade", 1), a2: try take("a", "shared", 2), b1: try take("b", "shared", 3))
    }

    @Test func labelsLatestAndPrefixesResolveEverywhere() throws {
        let stored = try Self.store()
        let home = stored.home
        defer { home.remove() }
        // A label, scoped to the VM a rollback names: "shared" is a2 for VM a although b1 carries it too.
        let byLabel = try home.amber(["rollback", "a", "--to", "shared"])
        #expect(byLabel.status == 65 && byLabel.stderr.contains("snapshot \(stored.a2.id) cannot be restored"), "\(byLabel.stderr)")
        let latest = try home.amber(["rollback", "a", "--to", "latest"])
        #expect(latest.stderr.contains("snapshot \(stored.a2.id) cannot be restored"), "\(latest.stderr)")
        let before = try home.amber(["rollback", "a", "--to", "before-upgrade"])
        #expect(before.stderr.contains("snapshot \(stored.a1.id) cannot be restored"), "\(before.stderr)")

        // Without a VM, `latest` is the newest of all and a label must name one snapshot.
        let protect = try home.amber(["snapshot", "protect", "latest", "--json"])
        #expect(protect.status == 0, "\(protect.stderr)")
        let change = try JSONSerialization.jsonObject(with: Data(protect.stdout.utf8)) as? [String: String]
        #expect(change == ["id": stored.b1.id, "action": "protected"])
        let ambiguous = try home.amber(["snapshot", "unprotect", "shared"])
        #expect(ambiguous.status == 64, "\(ambiguous.stderr)")
        #expect(
            ambiguous.stderr.hasPrefix("error: label shared names 2 snapshots")
                && ambiguous.stderr.contains(SnapshotIDs.shortened(stored.a2.id))
                && ambiguous.stderr.contains(SnapshotIDs.shortened(stored.b1.id)),
            "\(ambiguous.stderr)")
        let byPrefix = try home.amber(["snapshot", "unprotect", String(stored.b1.id.prefix(8))])
        #expect(byPrefix.status == 0 && byPrefix.stdout == "snapshot \(stored.b1.id) unprotected\n", "\(byPrefix.stdout)\(byPrefix.stderr)")
        let removed = try home.amber(["snapshot", "rm", "before-upgrade", "--json"])
        #expect(removed.status == 0 && removed.stdout.contains(stored.a1.id), "\(removed.stdout)\(removed.stderr)")
        let unknown = try home.amber(["clone", "no-such-label", "--name", "c1"])
        #expect(
            unknown.status == 64 && unknown.stderr == "error: no snapshot with id no-such-label (see `amber snapshots`)\n",
            "\(unknown.stderr)")
    }

    /// The listing says which zone it prints, gives ages and each snapshot's kind.
    @Test func listingShowsZoneAgeAndKind() throws {
        let stored = try Self.store()
        let home = stored.home
        defer { home.remove() }
        let catalog = try Catalog(path: AmberHome(explicit: home.root.path).catalogFile.path)
        try catalog.write { try $0.statement("UPDATE snapshots SET kind = 'disk' WHERE id = ?").bind(.text(stored.b1.id)).run() }
        let list = try home.amber(["snapshot", "ls"])
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n")
        #expect(
            lines.first?.contains("CREATED (UTC)") == true && lines.first?.contains("AGE") == true
                && lines.first?.contains("KIND") == true, "\(list.stdout)")
        let b1 = try #require(lines.first { $0.hasPrefix(SnapshotIDs.shortened(stored.b1.id)) })
        #expect(b1.contains("disk-only") && b1.contains("2023-11-14T22:13:23Z") && b1.contains(" ago"), "\(b1)")
        #expect(lines.first { $0.hasPrefix(SnapshotIDs.shortened(stored.a1.id)) }?.contains(" full ") == true, "\(list.stdout)")
    }
}
