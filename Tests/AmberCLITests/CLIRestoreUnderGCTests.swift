@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// Restores read the store under its shared lease: `amber store gc` running in a loop at the same time
/// (it takes the lease exclusively to move and free chunks) cannot break a clone or a rollback.
@Suite("Restores beside gc", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIRestoreUnderGCTests {
    @Test func clonesAndRollbacksSucceedWhileGCRunsInALoop() throws {
        let home = try CLIHome()
        let clones = (1...5).map { "g\($0)" }
        defer {
            for name in ["origin"] + clones { _ = try? home.amber(["stop", name, "--timeout", "5"]) }
            home.remove()
        }
        try home.startCounter("origin")
        let id = try home.snapshotID("origin")
        let cache = MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: id)

        // At most 200 runs or 5 minutes: the loop ends by itself.
        let gc = Process()
        gc.executableURL = URL(fileURLWithPath: "/bin/sh")
        gc.arguments = [
            "-c",
            "i=0; while [ $i -lt 200 ] && [ ! -e \"$1/stop-gc\" ]; do \"$2\" store gc --home \"$1\" >/dev/null 2>&1; i=$((i+1)); done",
            "gc-loop", home.root.path, BuiltProducts.amber.path,
        ]
        try gc.run()
        defer {
            FileManager.default.createFile(atPath: home.root.appendingPathComponent("stop-gc").path, contents: nil)
            let deadline = Date().addingTimeInterval(300)
            while gc.isRunning, Date() < deadline { usleep(50_000) }
            if gc.isRunning { gc.terminate() }
        }
        for (index, clone) in clones.enumerated() {
            // Each restore takes the snapshot out of the store afresh, reading it while gc runs.
            try? FileManager.default.removeItem(at: cache)
            let cloned = try home.amber(["clone", id, "--name", clone, "--detach"], timeout: 120)
            #expect(cloned.status == 0, "clone \(index): \(cloned.stderr)")
            try? FileManager.default.removeItem(at: cache)
            let rolled = try home.amber(["rollback", "origin", "--to", id], timeout: 120)
            #expect(rolled.status == 0, "rollback \(index): \(rolled.stderr)")
        }
        #expect(gc.isRunning || gc.terminationStatus == 0, "the gc loop ran")
    }
}
