@testable import AmberCore
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

@Suite(.serialized) struct StoreCrashSafetyTests {
    /// A distinct variant of `base` for each round, so every import writes new chunks.
    static func variant(_ base: [UInt8], round: Int) -> [UInt8] {
        var bytes = base
        var marker = UInt64(round + 1)
        for start in stride(from: 0, to: bytes.count, by: 65536) {
            withUnsafeBytes(of: &marker) { bytes.replaceSubrange(start..<(start + 8), with: $0) }
        }
        return bytes
    }

    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func killingImportsAtRandomMomentsNeverBreaksTheStore() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.path("home")
        let base = TestContent.random(12 << 20, seed: 1) + TestContent.text(12 << 20, seed: 2) + [UInt8](repeating: 0, count: 8 << 20)
        var sources: [String: String] = [:]  // image name -> sha256 of its source
        var generator = SystemRandomNumberGenerator()
        // Kill within the time one whole import takes on this machine now: a fixed window lets imports
        // finish first on a quiet machine and kills them all before they start on a loaded one.
        let calibrationBytes = Self.variant(base, round: 1000)
        try TestContent.write(calibrationBytes, to: directory.path("input"))
        sources["calibration"] = TestContent.sha256(calibrationBytes)
        let started = DispatchTime.now().uptimeNanoseconds
        let calibration = try AmberBinary.start(["image", "import", directory.path("input"), "--name", "calibration", "--home", home])
        calibration.waitUntilExit()
        #expect(calibration.terminationStatus == 0)
        let importMicroseconds = UInt32(max(1, (DispatchTime.now().uptimeNanoseconds - started) / 1000))
        var killed = 0
        for round in 0..<30 {
            let name = "img\(round)"
            let input = directory.path("input")
            let bytes = Self.variant(base, round: round)
            try TestContent.write(bytes, to: input)
            sources[name] = TestContent.sha256(bytes)
            let process = try AmberBinary.start(["image", "import", input, "--name", name, "--home", home])
            usleep(UInt32.random(in: 0...importMicroseconds, using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            process.waitUntilExit()

            // Whatever the moment of death, the catalog opens and lists only whole images.
            let context = try StoreContext(home: AmberHome(explicit: home))
            let listed = try ImageService(context: context).list().map(\.name)
            #expect(Set(listed).isSubset(of: Set(sources.keys)))
            if process.terminationReason == .exit { #expect(process.terminationStatus == 0 && listed.contains(name)) }
        }
        #expect(killed >= 10, "only \(killed) of 30 imports were killed mid-way; the test did not test much")

        let context = try StoreContext(home: AmberHome(explicit: home))
        let images = ImageService(context: context)
        let survivors = try images.list().map(\.name)
        for name in survivors {
            let output = directory.path("out")
            try images.export(name: name, to: output)
            #expect(try TestContent.sha256(ofFile: output) == sources[name], "image \(name)")
        }
        #expect(try context.verify().isClean)

        // gc reclaims what the killed imports left; afterwards every pack byte belongs to a live chunk.
        _ = try context.collectGarbage(dryRun: false)
        let stats = try context.statistics()
        #expect(stats.packFileBytes == stats.storedBytes + Int64(stats.packs * PackFormat.fileHeaderSize))
        #expect(try context.collectGarbage(dryRun: true).bytesFreed == 0)
        for name in survivors {
            try images.export(name: name, to: directory.path("out"))
            #expect(try TestContent.sha256(ofFile: directory.path("out")) == sources[name], "image \(name) after gc")
        }
    }
}
