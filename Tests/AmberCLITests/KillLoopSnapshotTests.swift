import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber snapshot`, `snapshot protect`/`unprotect` and `snapshot rm` killed with SIGKILL at random moments, 30
/// times each: the next command works, and after each kill the catalog equals what `amber store recover` rebuilds
/// from the store alone (nothing committed is lost, nothing uncommitted appears).
@Suite("Snapshot commands killed at random moments", .serialized)
struct KillLoopSnapshotTests {
    private func catalog(_ home: CLIHome) throws -> Catalog {
        try Catalog(path: home.root.appendingPathComponent("catalog.db").path)
    }

    private func snapshotRow(_ home: CLIHome, _ id: String) throws -> SnapshotRecord? {
        try catalog(home).read { try $0.snapshot(id: id) }
    }

    /// `count` snapshots of VM "syn" stored without a VM (their memory is distinct bytes, their state is not a
    /// machine's), one descending from the other; returns each one's memory by id.
    private func syntheticSnapshots(_ home: CLIHome, count: Int) throws -> [String: [UInt8]] {
        let service = SnapshotService(home: AmberHome(explicit: home.root.path))
        let shared = TestContent.text(64 << 10, seed: 99)
        var memories: [String: [UInt8]] = [:]
        for index in 0..<count {
            let memory = shared + TestContent.random(128 << 10, seed: UInt64(index + 1))
            let summary = try memory.withUnsafeBytes { bytes in
                try service.storeSynthetic(
                    vm: "syn", configJSON: "{}", created: Date(), memory: bytes, state: Array("state \(index)".utf8),
                    label: index % 3 == 0 ? "label \(index)" : nil)
            }
            memories[summary.id] = memory
        }
        return memories
    }

    /// After the loop: gc frees nothing a live snapshot needs, and verify finds the store whole.
    private func expectLiveAfterGC(_ home: CLIHome, memories: [String: [UInt8]]) throws {
        let gc = try home.amber(["store", "gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let verify = try home.amber(["store", "verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        for row in try context.catalog.read({ try $0.snapshots() }) {
            let root = try #require(row.memoryManifest.flatMap(ChunkDigest.init(bytes:)))
            let file = try ManifestFile(reader: context.reader, root: root)
            var bytes = [UInt8](repeating: 0, count: Int(file.length))
            _ = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
            #expect(bytes == memories[row.id], "snapshot \(row.id)'s memory after gc")
        }
    }

    /// amber-vmm resumes a VM whose snapshot connection dropped as soon as it notices; waits for that (a deadline,
    /// not a guess at how long it takes on a loaded machine).
    /// Returns how long it took to see it running.
    private func expectRunning(_ home: CLIHome, _ vm: String, round: Int) throws -> TimeInterval {
        let client = ControlClient(AmberHome(explicit: home.root.path).vm(vm))
        let start = Date()
        var state = try client.status().state
        while state != .running && Date() < start.addingTimeInterval(30) {
            usleep(5_000)
            state = try client.status().state
        }
        #expect(state == .running, "round \(round): VM \(vm) is \(state) 30 s after its snapshot was killed")
        return Date().timeIntervalSince(start)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
    func killingSnapshotsOfARunningVM() throws {
        let home = try CLIHome()
        defer {
            for vm in ["k1", "k1-clone"] { _ = try? home.amber(["stop", vm, "--timeout", "5"]) }
            home.remove()
        }
        try home.startCounter("k1", diskBytes: 1 << 20)
        // The first snapshot stores all of the memory; the rounds store what changed since the one before.
        _ = try home.snapshotID("k1")
        let loop = KillLoop(home, name: "snapshot", listings: [["snapshots", "--json"]])
        try loop.calibrate(Array(repeating: ["snapshot", "k1", "--json"], count: 3))
        var stillPaused: TimeInterval = 0
        var round = 0
        while loop.wantsAnotherRound {
            let before = try catalog(home).read { try $0.snapshots(vm: "k1") }.count
            let result = try loop.round(["snapshot", "k1", "--json"])
            let after = try catalog(home).read { try $0.snapshots(vm: "k1") }
            if result.killedBySignal {
                if after.count == before + 1 { loop.killedAfterCommit += 1 }
                #expect(after.count == before || after.count == before + 1)
            } else {
                #expect(result.status == 0, "round \(round): \(result.stderr)")
                let id = try JSONDecoder.iso8601.decode(SnapshotSummary.self, from: Data(result.stdout.utf8)).id
                #expect(after.count == before + 1 && after.contains { $0.id == id }, "round \(round): the snapshot it reported is missing")
            }
            // The VM runs on (amber-vmm resumes it once it sees the snapshot's connection drop) and takes the next snapshot.
            stillPaused = max(stillPaused, try expectRunning(home, "k1", round: round))
            let next = try loop.next(["snapshot", "k1", "--json"], sameWork: true)
            #expect(next.status == 0, "round \(round): the next snapshot failed: \(next.stderr)")
            try loop.expectRecoverGivesBackTheCatalog(round: round)
            round += 1
        }
        print("kill loop snapshot: the VM was seen running again at most \(Int(stillPaused * 1000)) ms after a kill")
        loop.report()

        #expect(try home.amber(["store", "gc"]).status == 0)
        let verify = try home.amber(["store", "verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let newest = try #require(try catalog(home).read { try $0.snapshots(vm: "k1") }.last)
        let clone = try home.amber(["clone", newest.id, "--name", "k1-clone", "--detach"], timeout: 120)
        #expect(clone.status == 0, "\(clone.stderr)")
        try home.waitForCount("k1-clone", above: 0)
    }

    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func killingProtectAndUnprotect() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let memories = try syntheticSnapshots(home, count: 6)
        let ids = memories.keys.sorted()
        let loop = KillLoop(home, name: "snapshot protect/unprotect", listings: [["snapshots", "--json"]])
        try loop.calibrate([["snapshot", "protect", ids[0]], ["snapshot", "unprotect", ids[0]], ["snapshot", "protect", ids[0]]])
        var generator = SystemRandomNumberGenerator()
        var round = 0
        while loop.wantsAnotherRound {
            let id = ids.randomElement(using: &generator)!
            let protect = !(try #require(try snapshotRow(home, id)).protected)
            let command = ["snapshot", protect ? "protect" : "unprotect", id]
            let result = try loop.round(command)
            let now = try #require(try snapshotRow(home, id)).protected
            if result.killedBySignal {
                if now == protect { loop.killedAfterCommit += 1 }
            } else {
                #expect(result.status == 0 && now == protect, "round \(round): \(result.stderr)")
            }
            // The next command works, and finishes what the killed one began.
            let next = try loop.next(command, sameWork: true)
            #expect(next.status == 0, "round \(round): \(next.stderr)")
            #expect(try snapshotRow(home, id)?.protected == protect)
            try loop.expectRecoverGivesBackTheCatalog(round: round)
            round += 1
        }
        loop.report()
        try expectLiveAfterGC(home, memories: memories)
    }

    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func killingSnapshotRemovals() throws {
        let home = try CLIHome()
        defer { home.remove() }
        var memories = try syntheticSnapshots(home, count: KillLoop.maximumRounds + 3 + 3)
        // Protected ones stay whatever happens; the rest are removed one by one, from anywhere in the chain.
        let keep = memories.keys.sorted().prefix(3)
        for id in keep { #expect(try home.amber(["snapshot", "protect", id]).status == 0) }
        let loop = KillLoop(home, name: "snapshot rm", listings: [["snapshots", "--json"]])
        var generator = SystemRandomNumberGenerator()
        var removable = Set(memories.keys).subtracting(keep)
        let calibrationVictims = removable.sorted().prefix(3)
        try loop.calibrate(calibrationVictims.map { ["snapshot", "rm", $0] })
        for id in calibrationVictims {
            removable.remove(id)
            memories[id] = nil
        }
        var round = 0
        while loop.wantsAnotherRound {
            let id = removable.randomElement(using: &generator)!
            let result = try loop.round(["snapshot", "rm", id])
            let gone = try snapshotRow(home, id) == nil
            if result.killedBySignal {
                if gone { loop.killedAfterCommit += 1 }
            } else {
                #expect(result.status == 0 && gone, "round \(round): \(result.stderr)")
            }
            // The next command works: it removes the snapshot, or says it is gone when the killed one had committed.
            let next = try loop.next(["snapshot", "rm", id], sameWork: !gone)
            #expect(next.status == 0 || (gone && next.errorLine.contains(id)), "round \(round): \(next.stderr)")
            #expect(try snapshotRow(home, id) == nil)
            removable.remove(id)
            memories[id] = nil
            try loop.expectRecoverGivesBackTheCatalog(round: round)
            round += 1
        }
        loop.report()
        try expectLiveAfterGC(home, memories: memories)
    }
}

extension JSONDecoder {
    /// Decodes what `amber ... --json` prints (dates in ISO 8601).
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
