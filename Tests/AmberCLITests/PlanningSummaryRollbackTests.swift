import AmberCatalog
@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// The planning summaries stay equal to the snapshot rows through real snapshots and a rollback that keeps the
/// current state (its pre-rollback snapshot), taken by the real amber and amber-vmm on /dev/kvm.
@Suite(
    "Planning summaries through snapshot and rollback", .serialized,
    .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct PlanningSummaryRollbackTests {
    @Test func aRollbacksPreRollbackSnapshotIsInTheSummary() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "p1", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let disk = try home.file("disk-p1.raw", [UInt8](repeating: 0x5A, count: 1 << 20))
        let run = try home.amber(["run", "p1", "--kernel", kernel, "--memory", "64M", "--disk", disk, "--detach"], timeout: 30)
        try #require(run.status == 0, "\(run.stderr)")
        let first = try home.amber(["snapshot", "p1", "--json"], timeout: 120)
        try #require(first.status == 0, "\(first.stderr)")
        let early = try JSONDecoder().decode(SnapshotIDOnly.self, from: Data(first.stdout.utf8)).id
        let rollback = try home.amber(["rollback", "p1", "--to", early, "--keep-current"], timeout: 120)
        try #require(rollback.status == 0, "\(rollback.stderr)")

        let catalog = try Catalog(path: home.root.appendingPathComponent("catalog.db").path)
        let rows = try catalog.read { try $0.snapshots(vm: "p1") }
        #expect(rows.count == 2 && rows.contains { $0.label?.hasPrefix("pre-rollback") == true })
        #expect(try catalog.read { try $0.staleSummaryVMs() } == [])
        #expect(try catalog.read { try $0.inconsistentPlanningSummaries() } == [])
        let summary = try #require(try catalog.read { try $0.planningSummaries(vm: "p1", includingIDs: true) }.first)
        #expect(summary.ids.map { list in (0..<list.count).map { list[$0] } } == rows.map(\.id))
    }

    private struct SnapshotIDOnly: Decodable { let id: String }
}
