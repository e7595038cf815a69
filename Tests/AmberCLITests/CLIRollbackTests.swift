import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// `amber rollback` and `amber clone` against the counting tiny guest, run by the real amber-vmm on
/// /dev/kvm: the guest counts its ticks in memory, so each snapshot shows where the guest was.
@Suite("Rollback and clone of running VMs", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIRollbackTests {
    private func start(_ home: CLIHome, name: String) throws {
        try home.startCounter(name, diskBytes: 1 << 20)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ result: CLIResult) throws -> T {
        try #require(result.status == 0, "\(result.stderr)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(result.stdout.utf8))
    }

    private func take(_ home: CLIHome, _ name: String) throws -> SnapshotSummary {
        try decode(SnapshotSummary.self, try home.amber(["snapshot", name, "--json"], timeout: 120))
    }

    /// The guest's tick counter as the snapshot holds it.
    private func counter(_ home: CLIHome, _ id: String) throws -> UInt64 {
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: id) })
        let root = try #require(record.memoryManifest.flatMap(ChunkDigest.init(bytes:)))
        let memory = try ManifestFile(reader: context.reader, root: root)
        var value: UInt64 = 0
        _ = try withUnsafeMutableBytes(of: &value) { try memory.read(into: $0, at: UInt64(TinyGuest.counterAddress)) }
        return value
    }

    private func pid(_ home: CLIHome, _ name: String) throws -> Int32 {
        try ControlClient(AmberHome(explicit: home.root.path).vm(name)).status().pid
    }

    @Test func rollbackContinuesFromTheSnapshotAndKeepsTheCurrentState() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "r1", "--timeout", "5"])
            home.remove()
        }
        try start(home, name: "r1")
        try home.waitForCount("r1", above: 0)
        let early = try take(home, "r1")
        try home.waitForCount("r1", above: try counter(home, early.id) + 3)
        let oldPID = try pid(home, "r1")
        let rolled = try decode(
            RestoreService.RollbackResult.self,
            try home.amber(["rollback", "r1", "--to", early.id, "--keep-current", "--json"], timeout: 120))
        let kept = try #require(rolled.keptCurrent)
        #expect(rolled.snapshot.id == early.id && rolled.wasRunning)
        #expect(kept.label?.hasPrefix("pre-rollback") == true)
        #expect(try pid(home, "r1") == rolled.pid && rolled.pid != oldPID)
        let after = try take(home, "r1")
        // The tree branches: the rolled-back VM descends from the snapshot it went back to.
        #expect(after.parent == early.id && kept.parent == early.id)

        let (atEarly, atKept, atAfter) = (try counter(home, early.id), try counter(home, kept.id), try counter(home, after.id))
        #expect(atEarly > 0)
        #expect(atKept > atEarly + 2, "the guest ran on between the snapshots: \(atEarly) -> \(atKept)")
        // Restored at the early snapshot's count, it has counted on only briefly since.
        #expect(atAfter >= atEarly && atAfter < atKept, "after rollback: \(atAfter) (snapshot \(atEarly), before rollback \(atKept))")

        // The rolled-back VM's disk is the snapshot's disk; its snapshot re-reads no disk chunk.
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let disks = try [early.id, after.id].map { id in try context.catalog.read { try $0.snapshot(id: id)?.diskManifest } }
        #expect(disks[0] != nil && disks[0] == disks[1])
        // The guest goes on printing (the restored serial port works).
        let log = home.vmDirectory("r1").appendingPathComponent("console.log")
        let deadline = Date().addingTimeInterval(10)
        while (try? String(contentsOf: log, encoding: .utf8))?.contains("t\n") != true && Date() < deadline { usleep(50_000) }
        #expect(try String(contentsOf: log, encoding: .utf8).contains("t\n"))
    }

    @Test func rollbackAtATimePicksTheNewestSnapshotNotAfterIt() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "r2", "--timeout", "5"])
            home.remove()
        }
        try start(home, name: "r2")
        let first = try take(home, "r2")
        sleep(2)
        let second = try take(home, "r2")
        let between = first.created.addingTimeInterval(1)
        let iso = ISO8601DateFormatter().string(from: between)
        let rolled = try decode(
            RestoreService.RollbackResult.self, try home.amber(["rollback", "r2", "--at", iso, "--json"], timeout: 120))
        #expect(rolled.snapshot.id == first.id)
        let latest = try decode(
            RestoreService.RollbackResult.self,
            try home.amber(
                ["rollback", "r2", "--at", ISO8601DateFormatter().string(from: Date().addingTimeInterval(2)), "--json"], timeout: 120))
        #expect(latest.snapshot.id == second.id)
        let tooEarly = try home.amber(["rollback", "r2", "--at", "2001-01-01 00:00"])
        #expect(tooEarly.status != 0)
        #expect(tooEarly.errorLine == "VM r2 has no snapshot taken at or before 2001-01-01 00:00 (see `amber snapshots r2`)")
    }

    @Test func clonesStartFromTheSnapshotAndShareItsMemoryFile() throws {
        let home = try CLIHome()
        let clones = ["c1", "c2", "c3"]
        defer {
            for name in ["origin"] + clones { _ = try? home.amber(["stop", name, "--timeout", "5"]) }
            home.remove()
        }
        try start(home, name: "origin")
        try home.waitForCount("origin", above: 0)
        let snapshot = try take(home, "origin")
        let atSnapshot = try counter(home, snapshot.id)
        for name in clones {
            let result = try decode(
                RestoreService.CloneResult.self,
                try home.amber(["clone", snapshot.id, "--name", name, "--detach", "--json"], timeout: 120))
            #expect(result.vm == name && result.snapshot.id == snapshot.id)
        }
        let memoryFile = MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: snapshot.id)
            .appendingPathComponent("memory").path
        for name in clones {
            let maps = try String(contentsOfFile: "/proc/\(try pid(home, name))/maps", encoding: .utf8)
            #expect(maps.contains(memoryFile), "clone \(name) maps the snapshot's memory file")
            let own = try take(home, name)
            #expect(try counter(home, own.id) >= atSnapshot)
            #expect(own.parent == snapshot.id)
        }
        let taken = try home.amber(["clone", snapshot.id, "--name", "c1", "--detach"])
        #expect(taken.status != 0)
        #expect(taken.errorLine == "a VM named c1 already exists: pick another name, or remove it with `amber rm c1`")
        #expect(try home.amber(["stop", "c3"]).status == 0)
        #expect(try home.amber(["rm", "c3"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: home.vmDirectory("c3").path))
        let running = try home.amber(["rm", "c2"])
        #expect(running.errorLine == "VM c2 is running: stop it first with `amber stop c2`")
    }

    /// Puts `bytes` in the snapshot's cached state and re-describes it in the cache's completion marker,
    /// as damage the marker's samples happen to miss would look (or a crafted state a test wants used).
    static func replaceCachedState(_ home: CLIHome, snapshot id: String, with bytes: [UInt8]) throws {
        let directory = MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: id)
        try Data(bytes).write(to: directory.appendingPathComponent("state"))
        chmod(directory.appendingPathComponent("state").path, 0o600)  // as Amber keeps it: owner-only
        var marker = try #require(SnapshotCacheMarker.read(in: directory))
        let index = try #require(marker.files.firstIndex { $0.name == "state" })
        marker.files[index] = SnapshotCacheMarker.File(
            name: "state", size: UInt64(bytes.count),
            samples: [.init(offset: 0, length: bytes.count, sha256: bytes.withUnsafeBytes { ChunkDigest.of($0).hex })])
        try marker.write(in: directory)
    }

    @Test func damagedCachedFilesAreTakenOutOfTheStoreAgain() throws {
        let home = try CLIHome()
        defer {
            for name in ["origin", "c1", "c2", "c3", "c4"] { _ = try? home.amber(["stop", name, "--timeout", "5"]) }
            home.remove()
        }
        try start(home, name: "origin")
        let snapshot = try take(home, "origin")
        #expect(try home.amber(["clone", snapshot.id, "--name", "c1", "--detach"], timeout: 120).status == 0)
        #expect(try home.amber(["stop", "c1"]).status == 0)
        let directory = MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: snapshot.id)
        let memory = directory.appendingPathComponent("memory"), state = directory.appendingPathComponent("state")
        let memoryBytes = try Data(contentsOf: memory), stateBytes = try Data(contentsOf: state)

        // Truncated (a copy cut short), zeroed (a power cut before the data reached the disk), flipped.
        let truncate = try FileHandle(forWritingTo: memory)
        try truncate.truncate(atOffset: UInt64(memoryBytes.count / 2))
        try truncate.close()
        #expect(try home.amber(["clone", snapshot.id, "--name", "c2", "--detach"], timeout: 120).status == 0)
        #expect(try Data(contentsOf: memory) == memoryBytes, "the truncated memory was taken out again")
        #expect(try home.amber(["stop", "c2"]).status == 0)

        try Data(count: memoryBytes.count).write(to: memory)
        #expect(try home.amber(["clone", snapshot.id, "--name", "c3", "--detach"], timeout: 120).status == 0)
        #expect(try Data(contentsOf: memory) == memoryBytes, "the zeroed memory was taken out again")

        var flipped = stateBytes
        flipped[flipped.count - 10] ^= 0x20
        try flipped.write(to: state)
        #expect(try home.amber(["clone", snapshot.id, "--name", "c4", "--detach"], timeout: 120).status == 0)
        #expect(try Data(contentsOf: state) == stateBytes, "the damaged state was taken out again")
    }

    @Test func aDamagedCachedStateFailsACloneAndIsTakenOutOfTheStoreAgain() throws {
        let home = try CLIHome()
        defer {
            for name in ["origin", "w1", "w3"] { _ = try? home.amber(["stop", name, "--timeout", "5"]) }
            home.remove()
        }
        try start(home, name: "origin")
        let snapshot = try take(home, "origin")
        #expect(try home.amber(["clone", snapshot.id, "--name", "w1", "--detach"], timeout: 120).status == 0)

        // Damage the completion marker's samples miss: a clone reads only the cached state's header and
        // shape, and its CRC-32 still covers every byte.
        let state = MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: snapshot.id)
            .appendingPathComponent("state").path
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: state)))
        bytes[bytes.count - 10] ^= 0x20
        try Self.replaceCachedState(home, snapshot: snapshot.id, with: bytes)
        let damaged = try home.amber(["clone", snapshot.id, "--name", "w2", "--detach"], timeout: 60)
        #expect(damaged.status != 0)
        #expect(
            damaged.errorLine.hasPrefix(
                "snapshot \(snapshot.id) cannot be restored: its machine state is not usable: machine state is corrupt: its checksum"),
            "\(damaged.errorLine)")
        #expect(!FileManager.default.fileExists(atPath: home.vmDirectory("w2").path))
        #expect(!FileManager.default.fileExists(atPath: state), "the damaged copy is dropped")

        let again = try home.amber(["clone", snapshot.id, "--name", "w3", "--detach"], timeout: 120)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try ControlClient(AmberHome(explicit: home.root.path).vm("w3")).status().state == .running)
    }

    @Test func amberVMMRefusesARestoreOnItsCommandLineThatItsConfigurationDoesNotDescribe() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "origin", "--timeout", "5"])
            home.remove()
        }
        try start(home, name: "origin")
        let snapshot = try take(home, "origin")
        #expect(try home.amber(["clone", snapshot.id, "--name", "w1", "--detach"], timeout: 120).status == 0)
        #expect(try home.amber(["stop", "w1"]).status == 0)
        let config = home.vmDirectory("w1").appendingPathComponent("config.json").path
        let memory = MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: snapshot.id)
            .appendingPathComponent("memory").path

        // `amber` passes the restore's memory file, size and vCPUs so amber-vmm builds the VM early; amber-vmm
        // still holds them against its configuration.
        let wrongSize = try runProcess(
            BuiltProducts.amberVMM,
            [
                "--config", config, "--restore-memory", memory,
                "--restore-bytes", "\(32 << 20)", "--restore-vcpus", "1",
            ])
        #expect(wrongSize.status == 2)
        #expect(
            wrongSize.stderr.contains(
                "the restore on amber-vmm's command line (\(memory), \(32 << 20) bytes, 1 vCPUs) is not the one its configuration describes (\(memory), \(64 << 20) bytes, 1 vCPUs)"
            ), "\(wrongSize.stderr)")
        let partial = try runProcess(BuiltProducts.amberVMM, ["--config", config, "--restore-memory", memory])
        #expect(partial.status == 2)
        #expect(partial.stderr.contains("--restore-memory, --restore-bytes and --restore-vcpus go together"))
        let missing = try runProcess(
            BuiltProducts.amberVMM,
            [
                "--config", config, "--restore-memory", memory + ".gone",
                "--restore-bytes", "\(64 << 20)", "--restore-vcpus", "1",
            ])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("snapshot memory \(memory).gone cannot be opened"), "\(missing.stderr)")
    }

    @Test func badRollbacksLeaveTheVMRunning() throws {
        let home = try CLIHome()
        defer {
            for name in ["b1", "b2"] { _ = try? home.amber(["stop", name, "--timeout", "5"]) }
            home.remove()
        }
        try start(home, name: "b1")
        try start(home, name: "b2")
        let mine = try take(home, "b1")
        let other = try take(home, "b2")
        let pidBefore = try pid(home, "b1")

        let unknown = try home.amber(["rollback", "b1", "--to", "ffffffff"])
        #expect(unknown.errorLine == "no snapshot with id ffffffff (see `amber snapshots`)")
        let foreign = try home.amber(["rollback", "b1", "--to", other.id])
        #expect(
            foreign.errorLine
                == "snapshot \(other.id) is a snapshot of VM b2, not b1: roll b2 back, or `amber clone \(other.id)` to get a copy")
        #expect(try home.amber(["rollback", "b1"]).status != 0)
        let diskOnly = try decode(SnapshotSummary.self, try home.amber(["snapshot", "b1", "--disk-only", "--json"], timeout: 60))
        #expect(diskOnly.kind == "disk" && diskOnly.logicalBytes == 1 << 20, "only the 1 MiB disk: \(diskOnly.logicalBytes)")
        let notRestorable = try home.amber(["rollback", "b1", "--to", diskOnly.id])
        #expect(
            notRestorable.errorLine
                == "snapshot \(diskOnly.id) cannot be restored: it has no memory or machine state (a disk-only snapshot)")

        // Damage the snapshot's machine state in its pack: the rollback is refused before the VM is touched.
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: mine.id) })
        let stateRoot = try #require(record.stateManifest.flatMap(ChunkDigest.init(bytes:)))
        let manifest = try context.reader.manifest(stateRoot)
        let piece = try #require(manifest.digests.first { !$0.isZero })
        let location = try #require(try context.index.locations(of: [piece])[piece])
        let pack = try FileHandle(forUpdating: URL(fileURLWithPath: context.store.packPath(location.pack)))
        try pack.seek(toOffset: location.offset + UInt64(PackFormat.recordHeaderSize + location.storedLength / 2))
        let byte = try #require(try pack.read(upToCount: 1)?.first)
        try pack.seek(toOffset: location.offset + UInt64(PackFormat.recordHeaderSize + location.storedLength / 2))
        pack.write(Data([byte ^ 0xFF]))
        try pack.close()

        let corrupt = try home.amber(["rollback", "b1", "--to", mine.id])
        #expect(corrupt.status != 0)
        #expect(
            corrupt.errorLine.hasPrefix("snapshot \(mine.id) cannot be restored: its state cannot be read from the store"),
            "\(corrupt.errorLine)")
        #expect(try pid(home, "b1") == pidBefore)
        #expect(try ControlClient(AmberHome(explicit: home.root.path).vm("b1")).status().state == .running)
    }

    @Test func rollbackOfAStoppedVMStartsItFromTheSnapshot() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "s1", "--timeout", "5"])
            home.remove()
        }
        try start(home, name: "s1")
        let snapshot = try take(home, "s1")
        #expect(try home.amber(["stop", "s1"]).status == 0)
        let rolled = try decode(
            RestoreService.RollbackResult.self, try home.amber(["rollback", "s1", "--to", snapshot.id, "--json"], timeout: 120))
        #expect(!rolled.wasRunning)
        #expect(try pid(home, "s1") == rolled.pid)
        let exported = home.scratch.appendingPathComponent("exported.raw").path
        #expect(try home.amber(["disk", "export", "s1", exported]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: exported)) == Data(repeating: 0x5A, count: 1 << 20))

        // The snapshot's materialized copy stays while a VM restored from it exists, then goes.
        let cache = MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: snapshot.id).path
        #expect(try home.amber(["snapshot", "rm", snapshot.id]).status == 0)
        #expect(FileManager.default.fileExists(atPath: cache))
        #expect(try home.amber(["stop", "s1"]).status == 0)
        #expect(try home.amber(["rm", "s1"]).status == 0)
        let gc = try home.amber(["store", "gc"])
        #expect(gc.stdout.contains("of removed snapshots taken out for rollback or clone"), "\(gc.stdout)")
        #expect(!FileManager.default.fileExists(atPath: cache))
    }
}
