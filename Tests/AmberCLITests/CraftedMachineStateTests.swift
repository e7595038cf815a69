import AmberCatalog
@testable import AmberCore
import AmberMachineState
import AmberModel
import AmberStore
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// A snapshot whose machine state (checksum intact) holds a crafted memory region, through the real
/// `amber` and amber-vmm on /dev/kvm: summing a region of 2^64-4096 bytes onto the ones before it
/// overflowed (a trap) in `clone` and `rollback`.
@Suite("Crafted machine state", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CraftedMachineStateTests {
    @Test func aMemoryRegionOf2To64Minus4096BytesIsRefusedByCloneAndRollback() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "m1", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let run = try home.amber(["run", "m1", "--kernel", kernel, "--memory", "64M", "--detach"], timeout: 30)
        try #require(run.status == 0, "\(run.stderr)")
        let taken = try home.amber(["snapshot", "m1", "--json"], timeout: 120)
        try #require(taken.status == 0, "\(taken.stderr)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let id = try decoder.decode(SnapshotSummary.self, from: Data(taken.stdout.utf8)).id

        // The real state with a second region of 2^64-4096 bytes after the first in the memory file, at
        // guest address 0 (so its own end does not overflow: the sum of the file offsets does).
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: id) })
        let stateRoot = try #require(record.stateManifest.flatMap(ChunkDigest.init(bytes:)))
        let statePath = home.scratch.appendingPathComponent("state").path
        try context.reader.materialize(stateRoot, toPath: statePath)
        var state = try MachineState(contentsOf: statePath)
        var region = try #require(state.memory.regions.last)
        region.fileOffset += region.size
        region.guestAddress = 0
        region.size = UInt64.max - 4095
        state.memory.regions.append(region)
        let crafted = try state.encoded()
        try context.write { writer in
            try crafted.withUnsafeBytes { try writer.ingest(buffer: $0) }
        } commit: { db, ingested in
            try db.statement("UPDATE snapshots SET state_manifest = ? WHERE id = ?").bind(.blob(ingested.manifest.bytes), .text(id)).run()
        }

        let needles = ["snapshot \(id)", "impossible memory region", "another snapshot"]
        expectRefusal(try home.amber(["clone", id, "--name", "c1", "--detach"], timeout: 120), "clone", mentioning: needles)
        expectRefusal(try home.amber(["rollback", "m1", "--to", id], timeout: 120), "rollback", mentioning: needles)
        // The VM it was to be rolled back is untouched.
        let status = try home.amber(["ps", "--json"])
        #expect(status.stdout.contains("\"running\""), "\(status.stdout)")
    }
}
