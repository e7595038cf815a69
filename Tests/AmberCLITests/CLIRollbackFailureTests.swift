import AmberCatalog
@testable import AmberCore
import AmberKVM
import AmberMachineState
import AmberStore
import AmberSystem
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// A rollback whose restored VM fails inside amber-vmm (a state KVM refuses, as a snapshot from another
/// CPU or kernel would be) must cost nothing: the running VM goes on in the same amber-vmm, its disk
/// overlay untouched; a stopped VM keeps its overlay and configuration.
@Suite("Failed rollbacks put the VM back", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIRollbackFailureTests {
    static let unknownMSR: UInt32 = 0xDEAD_BEEF

    /// Takes the snapshot out of the store into the restore cache and gives its first vCPU an MSR the
    /// host does not know, re-encoded so that every check amber makes passes (CRC included).
    private func craftUnknownMSR(_ home: CLIHome, snapshot id: String) throws {
        let amberHome = AmberHome(explicit: home.root.path)
        let context = try StoreContext(home: amberHome)
        let record = try #require(try context.catalog.read { try $0.snapshot(id: id) })
        let taken = try MaterializedSnapshot(record, context: context, recheckState: false)
        var state = try MachineState(contentsOf: taken.statePath)
        state.vcpus[0].msrs.append(MSREntry(index: Self.unknownMSR, value: 1))
        try CLIRollbackTests.replaceCachedState(home, snapshot: id, with: try state.encoded())
    }

    /// The VM directory's files and their contents, to compare before and after.
    private func files(_ home: CLIHome, _ name: String, _ names: [String]) throws -> [String: Data] {
        let directory = AmberHome(explicit: home.root.path).vm(name).url
        var result: [String: Data] = [:]
        for file in names { result[file] = try Data(contentsOf: directory.appendingPathComponent(file)) }
        return result
    }

    private func leftovers(_ home: CLIHome, _ name: String) throws -> [String] {
        let directory = AmberHome(explicit: home.root.path).vm(name).url.path
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(VMSetAside.suffix) }
    }

    @Test func aRestoreKVMRefusesLeavesTheRunningVMAsItWas() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "f1", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("f1", diskBytes: 1 << 20)
        let id = try home.snapshotID("f1")
        try craftUnknownMSR(home, snapshot: id)
        let directory = AmberHome(explicit: home.root.path).vm("f1")
        let before = try ControlClient(directory).status()
        let kept = ["disk0.overlay", "disk0.overlay.map", "config.json"]
        let filesBefore = try files(home, "f1", kept)

        let failed = try home.amber(["rollback", "f1", "--to", id], timeout: 120)
        #expect(failed.status == 69, "a rollback that failed in the VM: \(failed.stderr)")
        #expect(failed.errorLine.hasPrefix("rollback of VM f1 to snapshot \(id) failed, and VM f1 is back as it was: "), "\(failed.stderr)")
        #expect(failed.errorLine.lowercased().contains("deadbeef"), "the reason names the refused MSR: \(failed.errorLine)")
        #expect(failed.stderr.split(separator: "\n").count == 1, "one error line: \(failed.stderr)")

        let after = try ControlClient(directory).status()
        #expect(after.pid == before.pid, "the same amber-vmm runs on")
        #expect(after.state == .running)
        #expect(try files(home, "f1", kept) == filesBefore, "the overlay and configuration are unchanged")
        #expect(try leftovers(home, "f1").isEmpty)
        // The guest really runs again (resumed, not left paused): its tick counter goes on.
        let memory = try GuestMemoryWindow(after)
        func ticks() throws -> UInt64 {
            try memory.read(at: UInt64(TinyGuest.counterAddress), count: 8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        }
        let ticksAfter = try ticks()
        let deadline = Date().addingTimeInterval(30)
        while try ticks() == ticksAfter, Date() < deadline { usleep(50_000) }
        #expect(try ticks() > ticksAfter, "the guest's counter does not move: the VM was not resumed")

        // With the snapshot taken out of the store again, the same rollback succeeds.
        try FileManager.default.removeItem(at: MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: id))
        let rolled = try home.amber(["rollback", "f1", "--to", id], timeout: 120)
        #expect(rolled.status == 0, "\(rolled.stderr)")
        #expect(try ControlClient(directory).status().pid != before.pid)
        #expect(try leftovers(home, "f1").isEmpty)
    }

    /// The snapshot's memory file loses its end behind Amber's back after its cache marker was written
    /// (the marker is made to agree, so amber's checks pass): amber-vmm refuses the short file, and the VM
    /// that was running goes on with its disk.
    @Test func aSnapshotWhoseMemoryFileIsShortLeavesTheRunningVMAsItWas() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "f3", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("f3", diskBytes: 1 << 20)
        let id = try home.snapshotID("f3")
        let amberHome = AmberHome(explicit: home.root.path)
        let context = try StoreContext(home: amberHome)
        let record = try #require(try context.catalog.read { try $0.snapshot(id: id) })
        _ = try MaterializedSnapshot(record, context: context, recheckState: false)
        let cache = MaterializedSnapshot.directory(amberHome, id: id)
        let memory = cache.appendingPathComponent("memory").path
        let shortened = try FileDescriptor.open(memory, O_RDONLY).size() / 2
        #expect(truncate(memory, off_t(shortened)) == 0)
        var marker = try #require(SnapshotCacheMarker.read(in: cache))
        let index = try #require(marker.files.firstIndex { $0.name == "memory" })
        marker.files[index] = SnapshotCacheMarker.File(name: "memory", size: shortened, samples: [])
        try marker.write(in: cache)

        let directory = amberHome.vm("f3")
        let before = try ControlClient(directory).status()
        let kept = ["disk0.overlay", "disk0.overlay.map", "config.json"]
        let filesBefore = try files(home, "f3", kept)
        let failed = try home.amber(["rollback", "f3", "--to", id], timeout: 120)
        #expect(failed.status == 69, "a rollback that failed in the VM: \(failed.stderr)")
        #expect(failed.errorLine.hasPrefix("rollback of VM f3 to snapshot \(id) failed, and VM f3 is back as it was: "), "\(failed.stderr)")
        #expect(failed.errorLine.contains("memory file holds \(shortened) bytes"), "the reason names the short file: \(failed.errorLine)")
        #expect(failed.stderr.split(separator: "\n").count == 1, "one error line: \(failed.stderr)")
        let after = try ControlClient(directory).status()
        #expect(after.pid == before.pid && after.state == .running)
        #expect(try files(home, "f3", kept) == filesBefore)
        #expect(try leftovers(home, "f3").isEmpty)
    }

    @Test func aFailedRestartOfAStoppedVMKeepsItsOverlay() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "f2", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("f2", diskBytes: 1 << 20)
        let id = try home.snapshotID("f2")
        try craftUnknownMSR(home, snapshot: id)
        #expect(try home.amber(["stop", "f2"]).status == 0)
        let kept = ["disk0.overlay", "disk0.overlay.map", "config.json"]
        let filesBefore = try files(home, "f2", kept)

        let failed = try home.amber(["rollback", "f2", "--to", id], timeout: 120)
        #expect(failed.status == 69, "a rollback that failed in the VM: \(failed.stderr)")
        #expect(failed.errorLine.hasPrefix("rollback of VM f2 to snapshot \(id) failed, and VM f2 is back as it was: "), "\(failed.stderr)")
        #expect(try files(home, "f2", kept) == filesBefore)
        #expect(try leftovers(home, "f2").isEmpty)
        let ps = try home.amber(["ps", "--json"])
        #expect(ps.stdout.contains("\"stopped\""), "\(ps.stdout)")
    }
}

/// `amber rollback` killed with SIGKILL at random points: the next command on the VM finishes or undoes
/// the rollback, and the VM runs, either as it was or from the snapshot; nothing stays set aside.
@Suite("Rollbacks killed mid-way", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIRollbackKillTests {
    @Test func killedRollbacksLeaveTheVMRunning() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "k1", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("k1")
        let id = try home.snapshotID("k1")
        let directory = AmberHome(explicit: home.root.path).vm("k1")
        // Once to take the snapshot out of the store: later rollbacks spend their time on the VMs.
        #expect(try home.amber(["rollback", "k1", "--to", id], timeout: 120).status == 0)
        var random = SystemRandomNumberGenerator()
        var caughtMidway = 0
        for round in 0..<40 where caughtMidway < 3 {
            let rollback = Process()
            rollback.executableURL = BuiltProducts.amber
            rollback.arguments = ["rollback", "k1", "--to", id, "--home", home.root.path]
            rollback.standardOutput = FileHandle.nullDevice
            rollback.standardError = FileHandle.nullDevice
            try rollback.run()
            // Kill it at a random moment after it has set the VM's files aside (on a loaded machine a
            // fixed delay mostly lands before or after), or wherever it is if it ends first.
            let setAsideBy = Date().addingTimeInterval(30)
            while rollback.isRunning, Date() < setAsideBy,
                access(directory.configFile.path + VMSetAside.suffix, F_OK) != 0
            { usleep(200) }
            usleep(UInt32.random(in: 0...20_000, using: &random))
            kill(rollback.processIdentifier, SIGKILL)
            rollback.waitUntilExit()
            let setAside = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter {
                $0.hasSuffix(VMSetAside.suffix)
            }
            if !setAside.isEmpty { caughtMidway += 1 }
            // Any command on the VM finishes what the killed rollback left.
            _ = try home.amber(["resume", "k1"])
            let deadline = Date().addingTimeInterval(30)
            while (try? ControlClient(directory).status().state) != .running, Date() < deadline { usleep(20_000) }
            #expect((try? ControlClient(directory).status().state) == .running, "round \(round): the VM does not run")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter {
                $0.hasSuffix(VMSetAside.suffix)
            }
            #expect(leftovers.isEmpty, "round \(round): \(leftovers)")
        }
        #expect(caughtMidway > 0, "no kill landed while the VM's files were set aside")
        // Exactly one amber-vmm serves the VM.
        let vmms = try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { pid in
            guard let line = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return false }
            return line.contains("amber-vmm") && line.contains(directory.configFile.path)
        }
        #expect(vmms.count == 1, "amber-vmm processes for k1: \(vmms)")
    }

    /// The restored VM's amber-vmm killed while it restores (as soon as it holds its configuration's lock,
    /// before it answers): the rollback fails with one line and the VM that was running goes on, its
    /// overlay and configuration as they were.
    @Test func aRestoringAmberVMMKilledLeavesTheRunningVMAsItWas() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "k2", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("k2", diskBytes: 1 << 20)
        let id = try home.snapshotID("k2")
        let directory = AmberHome(explicit: home.root.path).vm("k2")
        #expect(try home.amber(["rollback", "k2", "--to", id], timeout: 120).status == 0)
        let kept = ["disk0.overlay", "disk0.overlay.map", "config.json"]
        var killed = 0
        for round in 0..<20 where killed < 2 {
            let before = try ControlClient(directory).status().pid
            let filesBefore = try kept.map { try Data(contentsOf: directory.url.appendingPathComponent($0)) }
            let rollback = Process()
            rollback.executableURL = BuiltProducts.amber
            rollback.arguments = ["rollback", "k2", "--to", id, "--home", home.root.path]
            let errors = Pipe()
            rollback.standardOutput = FileHandle.nullDevice
            rollback.standardError = errors
            try rollback.run()
            // The new amber-vmm takes the lock of the new config.json first thing: kill it then.
            var victim: Int32?
            let deadline = Date().addingTimeInterval(30)
            while rollback.isRunning, victim == nil, Date() < deadline {
                if access(directory.configFile.path + VMSetAside.suffix, F_OK) == 0,
                    let holder = FileLock.holder(of: directory.configFile.path), holder > 0, holder != before
                {
                    victim = holder
                    kill(holder, SIGKILL)
                }
            }
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            rollback.waitUntilExit()
            let now = try ControlClient(directory).status()
            #expect(now.state == .running, "round \(round)")
            if rollback.terminationStatus == 0 {
                #expect(now.pid != before, "round \(round): the rollback says it succeeded")
                continue
            }
            killed += 1
            #expect(victim != nil, "round \(round): \(stderr)")
            #expect(stderr.hasPrefix("error: rollback of VM k2 to snapshot \(id) failed, and VM k2 is back as it was: "), "\(stderr)")
            #expect(stderr.split(separator: "\n").count == 1, "one error line: \(stderr)")
            #expect(now.pid == before, "round \(round): the same amber-vmm runs on")
            #expect(try kept.map { try Data(contentsOf: directory.url.appendingPathComponent($0)) } == filesBefore)
        }
        #expect(killed > 0, "no restoring amber-vmm was killed before it answered")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter { $0.hasSuffix(VMSetAside.suffix) }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}
