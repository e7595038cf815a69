import AmberCatalog
import AmberControl
@testable import AmberCore
import AmberMachineState
import AmberModel
import AmberStore
import AmberSystem
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// `amber snapshot` and `amber snapshots` against tiny guests run by the real amber-vmm on /dev/kvm.
@Suite("Snapshots of running VMs", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLISnapshotTests {
    private static let memory: UInt64 = 64 << 20

    /// Starts the ticker guest detached with one disk of `diskBytes` random bytes; returns the disk path.
    private func startTicker(_ home: CLIHome, name: String, diskBytes: Int) throws -> String {
        let kernel = try home.file("ticker.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.ticker))
        let disk = [UInt8](try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).readData(ofLength: diskBytes))
        try #require(disk.count == diskBytes)
        let diskPath = try home.file("disk.raw", disk)
        let run = try home.amber(
            ["run", name, "--kernel", kernel, "--memory", "64M", "--vcpus", "2", "--disk", diskPath, "--detach"],
            timeout: 30)
        try #require(run.status == 0, "\(run.stderr)")
        return diskPath
    }

    private func status(_ home: CLIHome, _ name: String) throws -> VMStatus {
        try ControlClient(AmberHome(explicit: home.root.path).vm(name)).status()
    }

    private func snapshots(_ home: CLIHome, _ name: String) throws -> [SnapshotSummary] {
        let list = try home.amber(["snapshots", name, "--json"])
        try #require(list.status == 0, "\(list.stderr)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode([SnapshotSummary].self, from: Data(list.stdout.utf8))
    }

    private func take(_ home: CLIHome, _ arguments: [String]) throws -> SnapshotSummary {
        let result = try home.amber(["snapshot"] + arguments + ["--json"], timeout: 120)
        try #require(result.status == 0, "\(result.stderr)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SnapshotSummary.self, from: Data(result.stdout.utf8))
    }

    private func materialize(_ context: StoreContext, _ manifest: [UInt8]?) throws -> [UInt8] {
        let root = try #require(manifest.flatMap(ChunkDigest.init(bytes:)))
        let file = try ManifestFile(reader: context.reader, root: root)
        var bytes = [UInt8](repeating: 0, count: Int(file.length))
        let read = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        #expect(read == bytes.count)
        return bytes
    }

    @Test func twoSnapshotsOfARunningVM() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t1", "--timeout", "5"])
            home.remove()
        }
        let diskPath = try startTicker(home, name: "t1", diskBytes: 4 << 20)
        let first = try take(home, ["t1", "--label", "before"])
        let second = try take(home, ["t1"])
        #expect(try status(home, "t1").state == .running)

        let listed = try snapshots(home, "t1")
        #expect(listed.map(\.id) == [first.id, second.id])
        #expect(listed[0].parent == nil && listed[1].parent == first.id)
        #expect(listed[0].label == "before" && listed[1].label == nil)
        #expect(first.kind == "full" && first.logicalBytes >= Int64(Self.memory) + (4 << 20))
        // Random disk bytes cannot shrink; the second snapshot finds them (and most memory) stored.
        #expect(first.storedBytes > 4 << 20)
        #expect(second.storedBytes < first.storedBytes / 8, "second stored \(second.storedBytes), first \(first.storedBytes)")

        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: second.id) })
        let state = try MachineState(encoded: try materialize(context, record.stateManifest))
        #expect(state.vcpus.count == 2)
        #expect(state.memory.totalBytes == Self.memory)
        #expect(state.virtioDevices.count == 1)
        #expect(try materialize(context, record.memoryManifest).count == Int(Self.memory))
        #expect(try materialize(context, record.diskManifest) == [UInt8](try Data(contentsOf: URL(fileURLWithPath: diskPath))))

        let table = try home.amber(["snapshots"])
        #expect(
            table.stdout.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) }
                == ["ID", SnapshotIDs.shortened(first.id), SnapshotIDs.shortened(second.id)])
        #expect(first.id.count == 16 && SnapshotIDs.shortened(first.id).count == 12, "64-bit ids, shown by their first 12 digits")
        #expect(
            table.stdout.split(separator: "\n").last?.hasPrefix("\(SnapshotIDs.shortened(second.id))  \(SnapshotIDs.shortened(first.id))")
                == true,
            "a lone child continues its parent's line (only branches indent), its parent named")

        let protect = try home.amber(["snapshot", "protect", String(first.id.prefix(6))])
        #expect(
            protect.status == 0 && protect.stdout == "snapshot \(first.id) protected\n",
            "a unique prefix names the snapshot: \(protect.stdout)")
        let refused = try home.amber(["snapshot", "rm", first.id])
        #expect(refused.status == 65)
        #expect(refused.errorLine == "snapshot \(first.id) is protected: run `amber snapshot unprotect \(first.id)` first")
        #expect(try snapshots(home, "t1").map(\.protected) == [true, false])
        #expect(try home.amber(["snapshot", "unprotect", first.id]).status == 0)
        #expect(try home.amber(["snapshot", "rm", first.id]).status == 0)
        let remaining = try snapshots(home, "t1")
        #expect(remaining.map(\.id) == [second.id] && remaining[0].parent == nil)
        let unknown = try home.amber(["snapshot", "rm", first.id])
        #expect(unknown.status == 64)
        #expect(unknown.errorLine == "no snapshot with id \(first.id) (see `amber snapshots`)")
    }

    @Test func pausedVMSnapshotHoldsItsExactMemoryAndStaysPaused() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t2", "--timeout", "5"])
            home.remove()
        }
        _ = try startTicker(home, name: "t2", diskBytes: 1 << 20)
        try #require(try home.amber(["pause", "t2"]).status == 0)
        let guestMemory = try GuestMemoryWindow(try status(home, "t2")).read()
        #expect(guestMemory.count == Int(Self.memory))

        let snapshot = try take(home, ["t2"])
        #expect(try status(home, "t2").state == .paused)
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: snapshot.id) })
        #expect(try materialize(context, record.memoryManifest) == guestMemory)
        try #require(try home.amber(["resume", "t2"]).status == 0)
        #expect(try status(home, "t2").state == .running)
    }

    @Test func theGuestRunsWhileTheSnapshotReadsItsMemoryAsItWasAtThePause() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t5", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("t5")
        let client = ControlClient(AmberHome(explicit: home.root.path).vm("t5"))
        let live = try GuestMemoryWindow(try client.status())
        let counter = UInt64(TinyGuest.counterAddress)
        func count(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
        let pattern = [UInt8](repeating: 0xA5, count: 1 << 20)
        try live.write(pattern, at: 16 << 20)

        let hold = try client.beginSnapshot()
        defer { hold.close() }
        let memory = try #require(hold.capture.memory)
        #expect(try client.status().state == .paused)
        let heldFile = try FileDescriptor.open(memory.path, O_RDONLY)
        let offset = memory.address
        func held(at address: UInt64, count: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            #expect(try bytes.withUnsafeMutableBytes { try heldFile.read(into: $0, at: offset + address) } == count)
            return bytes
        }
        let atPause = count(try held(at: counter, count: 8))
        #expect(atPause == count(try live.read(at: counter, count: 8)))

        try hold.release()
        #expect(hold.pauseMicroseconds > 0)
        #expect(try client.status().state == .running)
        // The guest counts on (about two ticks a second on this host) and something else rewrites its
        // memory; the held memory does not move.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, count(try live.read(at: counter, count: 8)) < atPause + 3 { usleep(1_000) }
        let ranTo = count(try live.read(at: counter, count: 8))
        #expect(ranTo >= atPause + 3, "the guest ran on while its memory was held: \(atPause) -> \(ranTo)")
        try live.write([UInt8](repeating: 0x5A, count: 1 << 20), at: 16 << 20)
        #expect(count(try held(at: counter, count: 8)) == atPause)
        #expect(try held(at: 16 << 20, count: 1 << 20) == pattern)

        try hold.end()
        let holder = memory.path.split(separator: "/")[1]
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(holder)"), "the process holding the memory is gone")
        #expect(try client.status().state == .running)
    }

    private static func random(_ count: Int) throws -> [UInt8] {
        [UInt8](try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).readData(ofLength: count))
    }

    /// Rewrites 1 MiB of `name`'s memory from outside, lets the guest count on, pauses the VM and
    /// snapshots it: the snapshot must hold exactly the paused memory. Resumes the VM after.
    private func rewriteAndSnapshot(_ home: CLIHome, _ name: String) throws -> SnapshotSummary {
        try GuestMemoryWindow(try status(home, name)).write(try Self.random(1 << 20), at: 20 << 20)
        sleep(1)
        try #require(try home.amber(["pause", name]).status == 0)
        let memory = try GuestMemoryWindow(try status(home, name)).read()
        let snapshot = try take(home, [name])
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: snapshot.id) })
        #expect(try materialize(context, record.memoryManifest) == memory)
        try #require(try home.amber(["resume", name]).status == 0)
        return snapshot
    }

    @Test func aRestoredVMsSnapshotReadsOnlyWhatChangedSinceItsSnapshot() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t6", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("t6")
        try GuestMemoryWindow(try status(home, "t6")).write(try Self.random(8 << 20), at: 16 << 20)
        let first = try take(home, ["t6"])
        let rollback = try home.amber(["rollback", "t6", "--to", first.id], timeout: 60)
        try #require(rollback.status == 0, "\(rollback.stderr)")
        // The restored VM maps the snapshot's memory file copy-on-write.
        let second = try rewriteAndSnapshot(home, "t6")
        // The rewritten MiB (16 chunks, stored whole: random bytes) and the counter's chunk, not the rest.
        #expect(second.storedBytes > 1 << 20 && second.storedBytes < 2 << 20, "stored \(second.storedBytes) bytes")
    }

    @Test func aBootedVMsNextSnapshotReadsOnlyThePagesWrittenSinceTheLastOne() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t8", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("t8")
        try GuestMemoryWindow(try status(home, "t8")).write(try Self.random(8 << 20), at: 16 << 20)
        let first = try take(home, ["t8"])
        // The guest's own writes (the counter, through KVM) and the rewritten MiB are tracked.
        _ = try rewriteAndSnapshot(home, "t8")
        let log = try String(contentsOf: home.vmDirectory("t8").appendingPathComponent("vmm.log"), encoding: .utf8)
        #expect(log.contains("pages written since snapshot \(first.id)"), "\(log)")
    }

    @Test func pagesASnapshotTookButDidNotRecordCountForTheNextOne() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t9", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("t9", memory: "256M")
        let memory = try GuestMemoryWindow(try status(home, "t9"))
        try memory.write(try Self.random(8 << 20), at: 16 << 20)
        _ = try take(home, ["t9"])
        // 192 MiB rewritten: the next snapshot takes those pages and is killed while it reads them.
        try memory.write(try Self.random(192 << 20), at: 32 << 20)
        let vmm = try status(home, "t9").pid
        let caught = try killSnapshot(home, "t9") {
            (try? children(of: vmm).isEmpty) == false && (try? status(home, "t9").state) == .running
        }
        try #require(caught, "the snapshot was never seen reading held memory")
        let gone = Date().addingTimeInterval(5)
        while Date() < gone, (try? children(of: vmm).isEmpty) != true { usleep(10_000) }
        // The one after it must still read them (it equals the paused memory byte for byte).
        _ = try rewriteAndSnapshot(home, "t9")
    }

    @Test func killedSnapshotLeavesTheVMRunningAndNoRow() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t3", "--timeout", "5"])
            home.remove()
        }
        // A large random disk keeps the VM paused long enough to be caught paused.
        _ = try startTicker(home, name: "t3", diskBytes: 256 << 20)
        let caughtPaused = try killSnapshot(home, "t3") { (try? status(home, "t3").state) == .paused }
        try #require(caughtPaused, "the snapshot was never seen holding the VM paused")
        let resumed = Date().addingTimeInterval(5)
        while Date() < resumed, (try? status(home, "t3").state) != .running { usleep(10_000) }
        #expect(try status(home, "t3").state == .running)
        #expect(try snapshots(home, "t3").isEmpty)
        // Nor is any process left holding its memory.
        #expect(try children(of: try status(home, "t3").pid).isEmpty)
    }

    /// Starts `amber snapshot NAME` and kills it (SIGKILL) as soon as `moment()` holds, polled every
    /// millisecond for up to 30 s; false if the snapshot ended first.
    private func killSnapshot(_ home: CLIHome, _ name: String, when moment: () -> Bool) throws -> Bool {
        let process = Process()
        process.executableURL = BuiltProducts.amber
        process.arguments = ["snapshot", name, "--home", home.root.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var caught = false
        while Date() < deadline, process.isRunning, !caught {
            caught = moment()
            if !caught { usleep(1_000) }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return caught
    }

    /// The processes `pid` started (a snapshot's memory holder is amber-vmm's only child). A thread that ends
    /// between the listing and the read (a control connection's) is skipped.
    private func children(of pid: Int32) throws -> [String] {
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        return threads.flatMap {
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/children", encoding: .utf8)) ?? "").split(separator: " ").map(
                String.init)
        }.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    @Test func snapshotKilledWhileReadingHeldMemoryLeavesNoHolderAndNoRow() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "t7", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("t7", memory: "256M")
        // 192 MiB of random memory: reading and compressing it keeps the snapshot busy after the release.
        let memory = try GuestMemoryWindow(try status(home, "t7"))
        try memory.write(
            [UInt8](try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).readData(ofLength: 192 << 20)), at: 32 << 20)
        let vmm = try status(home, "t7").pid

        // Caught with the memory held and the guest released: a holder exists and the VM runs.
        let caught = try killSnapshot(home, "t7") {
            (try? children(of: vmm).isEmpty) == false && (try? status(home, "t7").state) == .running
        }
        try #require(caught, "the snapshot was never seen reading held memory with the guest running")
        let gone = Date().addingTimeInterval(5)
        while Date() < gone, (try? children(of: vmm).isEmpty) != true { usleep(10_000) }
        #expect(try children(of: vmm).isEmpty, "the holder went with the snapshot")
        #expect(try status(home, "t7").state == .running)
        #expect(try snapshots(home, "t7").isEmpty)
        #expect(try home.amber(["snapshot", "t7"], timeout: 120).status == 0, "the next snapshot works")
    }

    @Test func unknownOrStoppedVMIsAOneLineError() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let unknown = try home.amber(["snapshot", "ghost"])
        #expect(unknown.status == 64)
        #expect(unknown.errorLine == "no VM named ghost (see `amber ps`)")
        let list = try home.amber(["snapshots", "ghost"])
        #expect(list.status == 64)
        #expect(list.errorLine == "no VM named ghost (see `amber ps`)")
        let kernel = try home.fakeBzImage()
        _ = try home.amber(["run", "dead", "--kernel", kernel, "--memory", "64M", "--detach"])
        let stopped = try home.amber(["snapshot", "dead"])
        #expect(stopped.status == 65)
        #expect(stopped.errorLine == "VM dead is not running (see `amber ps`)")
        #expect(!FileManager.default.fileExists(atPath: home.root.appendingPathComponent("catalog.db").path))
    }
}
