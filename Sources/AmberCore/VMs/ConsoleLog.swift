import Foundation
import Glibc

/// Prints a detached VM's console.log, optionally following it while the VM runs.
public struct ConsoleLog {
    public let manager: VMManager

    public init(manager: VMManager) {
        self.manager = manager
    }

    public func copy(_ name: String, follow: Bool, to output: FileHandle = .standardOutput) throws {
        let directory = try manager.existing(name)
        guard let log = FileHandle(forReadingAtPath: directory.consoleLog.path) else {
            throw VMLifecycleError.noConsoleLog(name: name)
        }
        defer { try? log.close() }
        while true {
            // Checked before draining, so output written just before the VM exited is still copied.
            let running = follow && directory.isOwnedByLiveProcess
            while let chunk = try log.read(upToCount: 65536), !chunk.isEmpty {
                output.write(chunk)
            }
            if !running { return }
            usleep(100_000)
        }
    }
}
