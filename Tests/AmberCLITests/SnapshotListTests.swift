import AmberCatalog
@testable import AmberCore
import Foundation
import Testing

/// `amber snapshots` on long chains and branching trees, through the real CLI and catalog.
@Suite struct SnapshotListTests {
    /// A chain `count` long (and with `branchAt`, a second child of that snapshot), inserted with plain SQL:
    /// `insertSnapshot` refreshes the planning summaries on every call, which 20,000 calls cannot afford.
    private func insertChain(_ home: PolicyHome, vm: String, count: Int, branchAt: Int? = nil) throws {
        let start = 1_700_000_000.0
        try home.catalog().write { db in
            try db.insertVM(VMRecord(name: vm, config: "{}", created: Date(timeIntervalSince1970: start)))
            let insert = """
                INSERT INTO snapshots (id, vm, parent, created, kind, logical_bytes, stored_bytes, pause_microseconds)
                VALUES (?, ?, ?, ?, 'full', 1000, 100, 1)
                """
            for index in 0..<count {
                try db.statement(insert).bind(
                    .text(String(format: "%08x", index)), .text(vm),
                    index == 0 ? nil : .text(String(format: "%08x", index - 1)),
                    .real(start + Double(index))
                ).run()
            }
            if let branchAt {
                try db.statement(insert).bind(
                    .text("branch00"), .text(vm), .text(String(format: "%08x", branchAt)),
                    .real(start + Double(count))
                ).run()
            }
        }
    }

    @Test func aChainOf20000SnapshotsListsAsShortRows() throws {
        let home = try PolicyHome()
        defer { home.remove() }
        try insertChain(home, vm: "long", count: 20_000)
        let result = try home.cli.amber(["snapshots", "long"], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 20_001, "a header and one row per snapshot")
        #expect((lines.map(\.count).max() ?? 0) < 200, "rows do not grow with the chain's length")
        #expect(lines[1].hasPrefix("00000000 ") && lines[20_000].hasPrefix("00004e1f "), "oldest first")
    }

    @Test func idsAreMatchedByUniquePrefixes() throws {
        let home = try PolicyHome()
        defer { home.remove() }
        try insertChain(home, vm: "p", count: 3)
        // Ids 00000000, 00000001, 00000002: "0000000" is ambiguous, "00000002" whole, "000" too short.
        let ambiguous = try home.cli.amber(["snapshot", "rm", "0000000"])
        #expect(ambiguous.status == 64)
        #expect(ambiguous.errorLine == "snapshot id 0000000 is ambiguous: it starts 00000000, 00000001, 00000002; give more of the id")
        let short = try home.cli.amber(["snapshot", "protect", "000"])
        #expect(short.errorLine == "no snapshot with id 000 (see `amber snapshots`)")
        let unknown = try home.cli.amber(["snapshot", "protect", "0000abcd"])
        #expect(unknown.errorLine == "no snapshot with id 0000abcd (see `amber snapshots`)")
        let removed = try home.cli.amber(["snapshot", "rm", "00000002"])
        #expect(removed.status == 0 && removed.stdout == "snapshot 00000002 removed\n", "\(removed.stderr)")
    }

    @Test func onlyBranchesIndent() throws {
        let home = try PolicyHome()
        defer { home.remove() }
        try insertChain(home, vm: "tree", count: 4, branchAt: 1)
        let result = try home.cli.amber(["snapshots", "tree"])
        #expect(result.status == 0, "\(result.stderr)")
        let firstColumns = result.stdout.split(separator: "\n").dropFirst().map { line -> String in
            let indent = line.prefix(while: { $0 == " " })
            return String(indent) + String(line.dropFirst(indent.count).prefix(while: { $0 != " " }))
        }
        // 0 -> 1 -> {2 -> 3, branch}: the chain stays at depth 0 up to the branching point.
        #expect(firstColumns == ["00000000", "00000001", "  00000002", "  00000003", "  branch00"])
    }
}
