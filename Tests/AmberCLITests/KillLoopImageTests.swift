import AmberCatalog
@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber image import` and `amber image rm` killed with SIGKILL at random moments, 30 times each: the next
/// command works, and after each kill the catalog equals what `amber store recover` rebuilds from the store alone.
@Suite(
    "Image commands killed at random moments", .serialized,
    .enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
struct KillLoopImageTests {
    /// From the catalog's rows alone (a StoreContext would also resolve what a killed command left: that is the
    /// next command's job here).
    private func imageNames(_ home: CLIHome) throws -> Set<String> {
        let catalog = try Catalog(path: home.root.appendingPathComponent("catalog.db").path)
        return Set(try catalog.read { try $0.images() }.map(\.name))
    }

    /// After the loop: gc frees nothing a live image needs (verify reads every chunk every record names), and
    /// images picked at random export as the files they were imported from (all of them took minutes under load).
    private func expectLiveAfterGC(_ home: CLIHome, sources: [String: String]) throws {
        let gc = try home.amber(["store", "gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let verify = try home.amber(["store", "verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let survivors = try imageNames(home)
        #expect(!survivors.isEmpty)
        for name in survivors.shuffled().prefix(5) {
            let output = home.scratch.appendingPathComponent("export.img").path
            let export = try home.amber(["image", "export", name, output])
            #expect(export.status == 0, "\(export.stderr)")
            #expect(try TestContent.sha256(ofFile: output) == sources[name], "image \(name) after gc")
        }
    }

    @Test func killingImports() throws {
        let home = try CLIHome()
        defer { home.remove() }
        // Enough data that an import is busy storing chunks for most of its life, not starting up.
        let base = TestContent.random(2 << 20, seed: 1) + TestContent.text(2 << 20, seed: 2) + [UInt8](repeating: 0, count: 1 << 20)
        var sources: [String: String] = [:]
        let input = home.scratch.appendingPathComponent("input.img").path
        var calibrationRuns: [[String]] = []
        for run in 0..<3 {
            let bytes = StoreCrashSafetyTests.variant(base, round: 1000 + run)
            let path = home.scratch.appendingPathComponent("calibration\(run).img").path
            try TestContent.write(bytes, to: path)
            sources["calibration\(run)"] = TestContent.sha256(bytes)
            calibrationRuns.append(["image", "import", path, "--name", "calibration\(run)"])
        }
        let loop = KillLoop(home, name: "image import", listings: [["image", "ls", "--json"]])
        try loop.calibrate(calibrationRuns)
        var round = 0
        while loop.wantsAnotherRound {
            let name = "img\(round)"
            let bytes = StoreCrashSafetyTests.variant(base, round: round)
            try TestContent.write(bytes, to: input)
            sources[name] = TestContent.sha256(bytes)
            let result = try loop.round(["image", "import", input, "--name", name])
            let present = try imageNames(home).contains(name)
            if result.killedBySignal {
                if present { loop.killedAfterCommit += 1 }
            } else {
                #expect(result.status == 0 && present, "round \(round): \(result.stderr)")
            }
            // The next command works: the import again, refused only when the killed one had committed.
            // Not the same work: most of its chunks are stored already.
            let next = try loop.next(["image", "import", input, "--name", name], sameWork: false)
            #expect(next.status == 0 || (present && next.errorLine.contains("already exists")), "round \(round): \(next.stderr)")
            try loop.expectRecoverGivesBackTheCatalog(round: round)
            round += 1
        }
        loop.report()
        try expectLiveAfterGC(home, sources: sources)
    }

    @Test func killingImageRemovals() throws {
        let home = try CLIHome()
        defer { home.remove() }
        // Not kept open: each round's recover replaces catalog.db.
        var context: StoreContext? = try StoreContext(home: AmberHome(explicit: home.root.path))
        var sources: [String: String] = [:]
        let input = home.scratch.appendingPathComponent("input.img").path
        for index in 0..<(KillLoop.maximumRounds + 4) {
            let bytes = TestContent.text(64 << 10, seed: 7) + TestContent.random(64 << 10, seed: UInt64(index + 1))
            try TestContent.write(bytes, to: input)
            _ = try ImageService(context: context!).importImage(file: input, name: "img\(index)")
            sources["img\(index)"] = TestContent.sha256(bytes)
        }
        context = nil
        let loop = KillLoop(home, name: "image rm", listings: [["image", "ls", "--json"]])
        try loop.calibrate((KillLoop.maximumRounds..<(KillLoop.maximumRounds + 3)).map { ["image", "rm", "img\($0)"] })
        var generator = SystemRandomNumberGenerator()
        var removable = Set((0..<KillLoop.maximumRounds).map { "img\($0)" })
        var round = 0
        while loop.wantsAnotherRound {
            let name = removable.randomElement(using: &generator)!
            let result = try loop.round(["image", "rm", name])
            let gone = !(try imageNames(home).contains(name))
            if result.killedBySignal {
                if gone { loop.killedAfterCommit += 1 }
            } else {
                #expect(result.status == 0 && gone, "round \(round): \(result.stderr)")
            }
            // The next command works: it removes the image, or says it is gone when the killed one had committed.
            let next = try loop.next(["image", "rm", name], sameWork: !gone)
            #expect(next.status == 0 || (gone && next.errorLine.contains("no image named")), "round \(round): \(next.stderr)")
            removable.remove(name)
            try loop.expectRecoverGivesBackTheCatalog(round: round)
            round += 1
        }
        loop.report()
        try expectLiveAfterGC(home, sources: sources)
    }
}
