import Foundation
import Glibc

/// Wall-clock seconds of `body`.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Runs a reference command (cp, lz4) and returns its wall time; aborts the benchmark if it fails.
func runTool(_ arguments: [String]) -> Double {
    seconds {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try! process.run()
        process.waitUntilExit()
        precondition(process.terminationStatus == 0, "\(arguments.joined(separator: " ")) failed")
    }
}

func gbps(_ bytes: Int, _ seconds: Double) -> String { String(format: "%.2f GB/s", Double(bytes) / seconds / 1e9) }
func mib<T: BinaryInteger>(_ bytes: T) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
func fmt(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
}

/// Makes the page cache hold `path` (both amber and the reference tools then read it from memory).
func warm(_ path: String) {
    _ = runTool(["cat", path])
}

/// Bytes the file's blocks take on disk (holes take none).
func allocatedBytes(_ path: String) -> Int {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return Int(info.st_blocks) * 512
}

/// CPU seconds (user + system, all threads) this process has used so far.
func processCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
