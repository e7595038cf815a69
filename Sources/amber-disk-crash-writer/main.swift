import AmberDisk
import AmberSystem
import Glibc

// Helper for the overlay crash test (Tests/AmberVirtioTests/OverlayCrashTests.swift), which kills it
// with SIGKILL at an arbitrary moment and then checks the overlay.
// Usage: amber-disk-crash-writer BASE OVERLAY FIRST-ROUND LAST-ROUND
//        amber-disk-crash-writer --without-flush BASE OVERLAY (see writeWithoutFlush)
// Round r writes region r (disjoint, unaligned, spanning chunk boundaries) in three uneven pieces with
// several buffers each, flushes, and only then prints "r" on stdout: a printed round is acknowledged.

func region(_ round: Int) -> (offset: UInt64, count: Int) {
    (UInt64(round * 20_000 + (round % 7) * 123), 12_000 + (round % 5) * 777)
}

func pattern(_ round: Int, _ index: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: round &* 131 &+ index &* 7 &+ 1)
}

/// `--without-flush BASE OVERLAY`: writes `pattern(0, i)` over the disk's first 256 KiB with no flush,
/// prints "written", and waits to be killed, its overlay's map committed only by an `OverlayMapCommitter`.
func writeWithoutFlush(base: String, overlay: String) throws -> Never {
    let disk = try OverlayDisk(basePath: base, overlayPath: overlay)
    let committer = try OverlayMapCommitter(overlay: disk) { StandardError.write("amber-disk-crash-writer: \($0)\n") }
    try disk.write((0..<(256 << 10)).map { pattern(0, $0) }, at: 0)
    let line = Array("written\n".utf8)
    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    while true { pause() }
    withExtendedLifetime(committer) {}
}

let arguments = CommandLine.arguments
if arguments.count == 4, arguments[1] == "--without-flush" {
    do {
        try writeWithoutFlush(base: arguments[2], overlay: arguments[3])
    } catch {
        StandardError.write("amber-disk-crash-writer: \(error)\n")
        exit(1)
    }
}
guard arguments.count == 5, let first = Int(arguments[3]), let last = Int(arguments[4]) else {
    StandardError.write("usage: amber-disk-crash-writer BASE OVERLAY FIRST-ROUND LAST-ROUND\n")
    exit(2)
}
do {
    let disk = try OverlayDisk(basePath: arguments[1], overlayPath: arguments[2])
    for round in first...last {
        let (offset, count) = region(round)
        var bytes = (0..<count).map { pattern(round, $0) }
        let cuts = [0, count / 3 + 5, count * 2 / 3 + 11, count]
        try bytes.withUnsafeMutableBytes { all in
            for piece in 0..<3 {
                let start = cuts[piece], end = cuts[piece + 1], middle = (start + end) / 2 + 1
                try disk.write(
                    from: [
                        UnsafeMutableRawBufferPointer(rebasing: all[start..<middle]),
                        UnsafeMutableRawBufferPointer(rebasing: all[middle..<end]),
                    ],
                    at: offset + UInt64(start))
            }
        }
        try disk.flush()
        let line = Array("\(round)\n".utf8)
        _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
} catch {
    StandardError.write("amber-disk-crash-writer: \(error)\n")
    exit(1)
}
