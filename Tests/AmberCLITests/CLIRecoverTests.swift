import AmberCatalog
@testable import AmberCore
import Foundation
import Glibc
import Testing

/// A home with an image, two VMs' snapshot trees (a rollback and a clone included), protected, removed and
/// policy-owned snapshots, made by the real amber and amber-vmm on /dev/kvm: with its catalog removed, or
/// replaced by an older copy of itself, `amber store recover` gives back what `amber snapshots --json`,
/// `amber image ls --json` and `amber policy plan` showed; gc then frees nothing live, and rollback and clone work.
@Suite("Recover a home from its store", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIRecoverTests {
    static let policy = """
        name: nightly
        vms: ["r*"]
        schedule: "02:00"
        keep: { last: 1 }
        """
    static let planTime = "2030-01-01T00:00:00Z"

    private struct Views: Equatable {
        var snapshots: String
        var images: String
        var plan: String
    }

    private func run(_ home: PolicyHome, _ arguments: [String], timeout: Double = 120) throws -> String {
        // Only the policy commands take --policies.
        let result =
            arguments.first == "policy"
            ? try home.amber(arguments, timeout: timeout)
            : try home.cli.amber(arguments, timeout: timeout)
        try #require(result.status == 0, "amber \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    private func views(_ home: PolicyHome) throws -> Views {
        Views(
            snapshots: try run(home, ["snapshots", "--json"]), images: try run(home, ["image", "ls", "--json"]),
            plan: try run(home, ["policy", "plan", "--verbose", "--at", Self.planTime]))
    }

    private func snapshot(_ home: PolicyHome, _ vm: String) throws -> String { try home.cli.snapshotID(vm) }

    /// Through the daemon's own path: a snapshot the policy "nightly" owns.
    private func policySnapshot(_ home: PolicyHome, _ vm: String) throws -> String {
        try SnapshotService(home: home.amberHome).take(vm: vm, policy: "nightly").id
    }

    private func removeCatalog(_ home: PolicyHome) {
        for suffix in ["", "-wal", "-shm"] { unlink(home.amberHome.catalogFile.path + suffix) }
    }

    private func copyCatalog(_ home: PolicyHome, to path: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [home.amberHome.catalogFile.path, ".backup '\(path)'"]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    /// Builds the home; returns (ids by role, the path of a catalog copy taken part way, if asked for).
    private func populate(_ home: PolicyHome, olderCopy: String? = nil) throws -> [String: String] {
        try home.writePolicy("nightly.yaml", Self.policy)
        let image = try home.cli.file("base.img", (0..<(3 << 18)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        _ = try run(home, ["image", "import", image, "--name", "base"])
        try home.cli.startCounter("r1", diskBytes: 1 << 20)
        try home.cli.startCounter("r2", diskBytes: 1 << 20)
        var ids: [String: String] = [:]
        ids["first"] = try snapshot(home, "r1")
        ids["protected"] = try snapshot(home, "r1")
        _ = try run(home, ["snapshot", "protect", ids["protected"]!])
        ids["policy1"] = try policySnapshot(home, "r1")
        ids["r2-gone"] = try snapshot(home, "r2")
        ids["r2-kept"] = try snapshot(home, "r2")
        if let olderCopy { try copyCatalog(home, to: olderCopy) }
        // After the copy: a removal, a protection change, a rollback (the tree branches), a clone and their snapshots.
        _ = try run(home, ["snapshot", "rm", ids["r2-gone"]!])
        _ = try run(home, ["snapshot", "unprotect", ids["protected"]!])
        _ = try run(home, ["snapshot", "protect", ids["policy1"]!])
        _ = try run(home, ["rollback", "r1", "--to", ids["first"]!, "--json"])
        ids["after-rollback"] = try policySnapshot(home, "r1")
        _ = try run(home, ["clone", ids["protected"]!, "--name", "c1", "--detach"])
        ids["clone"] = try snapshot(home, "c1")
        return ids
    }

    private func stopAll(_ home: PolicyHome) {
        for vm in ["r1", "r2", "c1", "c2"] { _ = try? home.cli.amber(["stop", vm, "--timeout", "5"]) }
    }

    /// After recovery: gc frees nothing live (verify stays clean), and a rollback and a clone work.
    private func expectLiveAfterGC(_ home: PolicyHome, _ ids: [String: String]) throws {
        let gc = try home.cli.amber(["store", "gc", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let verify = try home.cli.amber(["store", "verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let rollback = try home.cli.amber(["rollback", "r1", "--to", ids["protected"]!, "--json"], timeout: 120)
        #expect(rollback.status == 0, "\(rollback.stderr)")
        let clone = try home.cli.amber(["clone", ids["clone"]!, "--name", "c2", "--detach"], timeout: 120)
        #expect(clone.status == 0, "\(clone.stderr)")
        let exported = home.cli.scratch.appendingPathComponent("base.out").path
        #expect(try home.cli.amber(["image", "export", "base", exported]).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: exported, andPath: home.cli.scratch.appendingPathComponent("base.img").path))
    }

    @Test func aRemovedCatalogIsRebuiltFromTheStore() throws {
        let home = try PolicyHome()
        defer {
            stopAll(home)
            home.remove()
        }
        let ids = try populate(home)
        let before = try views(home)
        #expect(before.plan.contains("nightly"))

        removeCatalog(home)
        let refused = try home.cli.amber(["store", "gc"])
        #expect(
            refused.status != 0 && refused.errorLine.contains("amber store recover") && !refused.errorLine.contains("\n"),
            "\(refused.stderr)")
        let recover = try home.cli.amber(["store", "recover", "--json"], timeout: 120)
        try #require(recover.status == 0, "\(recover.stderr)")
        let report = try JSONDecoder().decode(RecoveryReport.self, from: Data(recover.stdout.utf8))
        #expect(report.records.snapshots == 6 && report.records.images == 1 && report.records.removed == 1)
        #expect(report.damagedRecords.isEmpty && report.recordsWritten.isEmpty)
        #expect(try views(home) == before)
        // Safe to re-run: nothing left to change.
        let again = try JSONDecoder().decode(RecoveryReport.self, from: Data(try run(home, ["store", "recover", "--json"]).utf8))
        #expect(!again.changedCatalog)
        try expectLiveAfterGC(home, ids)
    }

    @Test func anOlderCopyOfTheCatalogCatchesUpWithTheStore() throws {
        let home = try PolicyHome()
        defer {
            stopAll(home)
            home.remove()
        }
        let older = home.cli.scratch.appendingPathComponent("older.db").path
        let ids = try populate(home, olderCopy: older)
        let before = try views(home)

        removeCatalog(home)
        try FileManager.default.copyItem(atPath: older, toPath: home.amberHome.catalogFile.path)
        #expect(try views(home) != before)
        let refused = try home.cli.amber(["store", "gc", "--dry-run"])
        #expect(refused.status != 0 && refused.errorLine.contains("amber store recover"), "\(refused.stderr)")
        let recover = try home.cli.amber(["store", "recover", "--json"], timeout: 120)
        try #require(recover.status == 0, "\(recover.stderr)")
        let report = try JSONDecoder().decode(RecoveryReport.self, from: Data(recover.stdout.utf8))
        #expect(Set(report.added) == Set(["snapshot \(ids["after-rollback"]!)", "snapshot \(ids["clone"]!)", "VM c1"]))
        #expect(report.removed == ["snapshot \(ids["r2-gone"]!)"])
        // r2-kept descended from the removed snapshot: it moves up to that one's parent, as `snapshot rm` moved it.
        #expect(
            Set(report.updated)
                == Set([
                    "snapshot \(ids["protected"]!)", "snapshot \(ids["policy1"]!)",
                    "snapshot \(ids["r2-kept"]!)",
                ]))
        #expect(try views(home) == before)
        try expectLiveAfterGC(home, ids)
    }
}
