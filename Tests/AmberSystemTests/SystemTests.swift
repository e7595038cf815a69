import Foundation
import Glibc
import Synchronization
import Testing
@testable import AmberSystem

private func temporaryPath(_ name: String) -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "amber-system-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name).path
}

@Suite("AmberSystem: sockets, locks, threads, signals")
struct SystemTests {
    @Test func unixListenerIsOwnerOnlyAndCarriesBytes() throws {
        let path = temporaryPath("control.sock")
        let listener = try UnixListener(path: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let client = try UnixSocket.connect(path: path)
        let server = try listener.accept()
        try client.writeAll(Array("one\ntwo\nrest".utf8))
        client.shutdownSocket()
        let reader = LineReader(server)
        #expect(try reader.readLine() == Array("one".utf8))
        #expect(try reader.readLine() == Array("two".utf8))
        #expect(try reader.readLine() == nil)
        #expect(reader.takeBuffered() == Array("rest".utf8))
    }

    @Test func listenerRemovesItsPathWhenGone() throws {
        let path = temporaryPath("gone.sock")
        do {
            _ = try UnixListener(path: path)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: SystemError.self) { try UnixSocket.connect(path: path) }
    }

    @Test func fileLockIsExclusiveUntilReleased() throws {
        let path = temporaryPath("config.json")
        _ = FileManager.default.createFile(atPath: path, contents: Data("{}".utf8))
        var first: FileLock? = try FileLock(exclusive: path)
        #expect(throws: FileLock.Failure.alreadyLocked(path: path)) { try FileLock(exclusive: path) }
        #expect(first != nil)
        first = nil
        _ = try FileLock(exclusive: path)
    }

    @Test func kickSignalInterruptsABlockedThread() throws {
        try Signals.installNoOpHandler(for: Signals.vcpuKick)
        let pipe = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
        defer { pipe.deallocate() }
        #expect(Glibc.pipe(pipe) == 0)
        let readEnd = FileDescriptor(owning: pipe[0]), writeEnd = FileDescriptor(owning: pipe[1])
        // The read's outcome, set once under `lock` (whose condition the test waits on).
        let lock = ConditionLock()
        let result = Mutex<Int?>(nil)
        let thread = try NativeThread(name: "blocked") {
            // Test threads inherit a mask that may block the signal; vCPU threads unblock it too.
            Signals.unblockOnThisThread(Signals.vcpuKick)
            var byte: UInt8 = 0
            // A raw read, not the EINTR-retrying wrapper: the signal must make it return.
            let n = Glibc.read(readEnd.rawValue, &byte, 1)
            let outcome = n < 0 ? Int(-errno) : n
            lock.withLock {
                result.withLock { $0 = outcome }; lock.broadcast()
            }
        }
        var interrupted = false
        for _ in 0..<50 where !interrupted {
            thread.send(signal: Signals.vcpuKick)
            interrupted = lock.withLock { lock.wait(until: { result.withLock { $0 != nil } }, timeout: 0.1) }
        }
        if !interrupted { try writeEnd.writeAll([1]) }
        thread.join()
        #expect(interrupted)
        #expect(result.withLock { $0 } == -Int(EINTR))
    }

    @Test func conditionLockTimesOut() {
        let lock = ConditionLock()
        let start = MonotonicClock.now()
        let held = lock.withLock { lock.wait(until: { false }, timeout: 0.05) }
        #expect(!held)
        #expect(MonotonicClock.now() - start >= 0.05)
    }
}
