import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber image import` of a file that changes while it is read and of a source that never ends, and
/// waiting for the store lease, through the real binary.
@Suite struct ImportSourceTests {
    /// Rewrites a file in place, whole, alternating between contents of its size (so a mapping of it
    /// stays valid), on its own thread until stopped or `seconds` have passed.
    final class Rewriter: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private var rounds = 0
        private let finished = DispatchSemaphore(value: 0)

        init(path: String, contents: [[UInt8]], seconds: Double) {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            precondition(fd >= 0, "cannot open \(path)")
            Thread.detachNewThread { [self] in
                defer { close(fd); finished.signal() }
                let deadline = Date().addingTimeInterval(seconds)
                var round = 0
                while !lock.withLock({ stopped }), Date() < deadline {
                    let written = contents[round % contents.count].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
                    precondition(written == contents[round % contents.count].count, "short rewrite of \(path)")
                    round += 1
                    lock.withLock { rounds = round }
                }
            }
        }

        /// Stops the rewriting; returns how many whole rewrites were done.
        func stop() -> Int {
            lock.withLock { stopped = true }
            precondition(finished.wait(timeout: .now() + 30) == .success, "the rewriter did not stop")
            return lock.withLock { rounds }
        }
    }

    // Fails without the private copy per chunk: chunks hashed from the shared mapping and written from
    // it again are stored with bytes other than the ones their digest names, and verify finds them.
    @Test func aFileRewrittenWhileItIsImportedIsStoredAsItWasHashed() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let size = 16 << 20
        let first = TestContent.random(size, seed: 21)
        let second = TestContent.random(size, seed: 22)
        let source = try home.file("changing.img", first)
        let rewriter = Rewriter(path: source, contents: [second, first], seconds: 60)
        let imported = try home.amber(["image", "import", source, "--name", "changing"])
        let rounds = rewriter.stop()
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(rounds > 1, "the file was not rewritten while it was imported")

        let verify = try home.amber(["store", "verify"])
        #expect(verify.status == 0 && verify.stdout.hasPrefix("ok:"), "\(verify.stdout)\(verify.stderr)")
        // Later imports of either content dedup against whatever the raced import stored.
        for (name, bytes) in [("first", first), ("second", second)] {
            let path = try home.file(name, bytes)
            #expect(try home.amber(["image", "import", path, "--name", name]).status == 0)
            let output = home.scratch.appendingPathComponent(name + ".out").path
            let exported = try home.amber(["image", "export", name, output])
            #expect(exported.status == 0, "\(exported.stderr)")
            if exported.status == 0 {
                #expect(try TestContent.sha256(ofFile: output) == TestContent.sha256(bytes), "\(name) did not export exactly")
            }
        }
    }

    @Test func aFIFOIsRefusedAtOnceEvenWhileTheLeaseIsHeld() throws {
        let home = try CLIHome()
        defer { home.remove() }
        #expect(try home.amber(["store", "init"]).status == 0)
        let lease = HeldLock(home.root.appendingPathComponent("store/lease.lock").path)
        defer { lease.release() }
        let fifo = home.scratch.appendingPathComponent("stream").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // A hang (opening the FIFO, or waiting for the held lease) runs into the deadline and fails.
        let result = try home.amber(["image", "import", fifo, "--name", "stream"], timeout: 20)
        #expect(result.status == 65)
        #expect(
            result.stderr == "error: \(fifo) is a FIFO, not a regular file or block device; give the path of an image file "
                + "(copy a stream into a file first)\n", "\(result.stderr)")
    }

    @Test func waitingForTheLeaseSaysWhoHoldsItAndGivesUp() throws {
        let home = try CLIHome()
        defer { home.remove() }
        #expect(try home.amber(["store", "init"]).status == 0)
        let leasePath = home.root.appendingPathComponent("store/lease.lock").path
        let lease = HeldLock(leasePath)
        let source = try home.file("a.img", TestContent.text(1 << 20, seed: 5))
        let refused = try home.amber(
            ["image", "import", source, "--name", "a"], timeout: 30,
            environment: ["AMBER_LEASE_TIMEOUT": "1"])
        #expect(refused.status == 75, "busy, retry")
        let lines = refused.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(refused.stderr)")
        #expect(
            lines.first?.hasPrefix("amber: waiting for the store lease \(leasePath), held by pid \(getpid()) (") == true,
            "\(refused.stderr)")
        #expect(
            lines.last?.contains("gave up after 1 s waiting for the store lease \(leasePath), held by pid \(getpid())") == true,
            "\(refused.stderr)")
        #expect(try home.amber(["image", "ls"]).stdout.contains("no images"))

        lease.release()
        let imported = try home.amber(["image", "import", source, "--name", "a"], environment: ["AMBER_LEASE_TIMEOUT": "1"])
        #expect(imported.status == 0 && imported.stderr.isEmpty, "\(imported.stderr)")
    }
}
