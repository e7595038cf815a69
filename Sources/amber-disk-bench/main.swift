import AmberSystem
import AmberDisk
import Foundation
import Glibc

// The disk-layer benchmark: the same workloads through an OverlayDisk (over a read-only base) and
// through a RawFileBackend (a copy of that base: the reference, in the same run), each ending with a
// flush so durability is paid for. Prints a markdown table of MB/s and overlay/raw ratios.
// Usage: amber-disk-bench [--size-mib N] [--dir DIR] [--runs N]

struct Options {
    var sizeMiB = 256
    var directory = "/var/tmp"
    var runs = 3

    init(_ arguments: [String]) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { Self.usage() }
            switch (flag, Int(value)) {
            case ("--size-mib", let number?) where number > 0: sizeMiB = number
            case ("--dir", _): directory = value
            case ("--runs", let number?) where number > 0: runs = number
            default: Self.usage()
            }
        }
    }

    static func usage() -> Never {
        StandardError.write("usage: amber-disk-bench [--size-mib N] [--dir DIR] [--runs N]\n")
        exit(2)
    }
}

struct Workload {
    let name: String
    let blockSize: Int
    let random: Bool
    let write: Bool
    /// Writes into an overlay that already holds every chunk it touches (no copy-up).
    let rewrite: Bool
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let size = options.sizeMiB << 20
let directory = options.directory + "/amber-disk-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let basePath = directory + "/base.img"
let rawPath = directory + "/raw.img"
let overlayPath = directory + "/overlay"

/// Fast deterministic pseudo-random numbers (SystemRandomNumberGenerator is a system call per number).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// One generator for the whole run, passed inout: a top-level var would belong to the main actor.
var generator = SplitMix64(state: 1)

/// Incompressible content, so no layer below can take shortcuts.
func fill(_ path: String, using generator: inout SplitMix64) throws {
    let file = try FileDescriptor.open(path, O_RDWR | O_CREAT | O_TRUNC)
    var block = [UInt8](repeating: 0, count: 1 << 20)
    for offset in stride(from: 0, to: size, by: block.count) {
        block.withUnsafeMutableBytes { bytes in
            for index in stride(from: 0, to: bytes.count, by: 8) {
                bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: index, as: UInt64.self)
            }
        }
        try block.withUnsafeBytes { try file.write($0, at: UInt64(offset)) }
    }
    try file.sync()
}

try fill(basePath, using: &generator)
try fill(rawPath, using: &generator)

/// The offsets a workload touches: all blocks in order, or as many random block-aligned ones as fill a
/// quarter of the disk.
func offsets(for workload: Workload, using generator: inout SplitMix64) -> [UInt64] {
    let blocks = size / workload.blockSize
    guard workload.random else { return (0..<blocks).map { UInt64($0 * workload.blockSize) } }
    return (0..<(blocks / 4)).map { _ in UInt64(Int.random(in: 0..<blocks, using: &generator) * workload.blockSize) }
}

/// MB/s of the requests alone (page cache: the layer's own cost) and, for writes, including the final
/// flush (durable: what the host disk adds).
func run(_ workload: Workload, on backend: BlockBackend, offsets: [UInt64]) throws -> (requests: Double, durable: Double) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: workload.blockSize, alignment: 4096)
    defer { buffer.deallocate() }
    memset(buffer.baseAddress!, 0x5A, workload.blockSize)
    let start = DispatchTime.now().uptimeNanoseconds
    for offset in offsets {
        if workload.write {
            try backend.write(from: [buffer], at: offset)
        } else {
            try backend.read(into: [buffer], at: offset)
        }
    }
    let requestsDone = DispatchTime.now().uptimeNanoseconds
    if workload.write { try backend.flush() }
    let flushed = DispatchTime.now().uptimeNanoseconds
    let bytes = Double(offsets.count * workload.blockSize)
    return (bytes / (Double(requestsDone - start) / 1e9) / 1e6, bytes / (Double(flushed - start) / 1e9) / 1e6)
}

/// A fresh overlay for each run; rewrites and reads first put half the chunks (or, for rewrites, the
/// chunks they touch) into it, so reads mix overlay and base.
func overlayFor(_ workload: Workload, offsets: [UInt64]) throws -> OverlayDisk {
    try? OverlayDisk.remove(overlayPath: overlayPath)
    let disk = try OverlayDisk.create(basePath: basePath, overlayPath: overlayPath)
    if workload.rewrite {
        for offset in offsets { try disk.write([1], at: offset) }
    } else if !workload.write {
        for chunk in stride(from: 0, to: disk.chunkCount, by: 2) { try disk.write([1], at: UInt64(chunk * disk.chunkSize)) }
    }
    try disk.flush()
    return disk
}

let workloads = [
    Workload(name: "sequential write 64 KiB", blockSize: 64 << 10, random: false, write: true, rewrite: false),
    Workload(name: "sequential write 4 KiB (copy-up)", blockSize: 4 << 10, random: false, write: true, rewrite: false),
    Workload(name: "random write 64 KiB", blockSize: 64 << 10, random: true, write: true, rewrite: false),
    Workload(name: "random write 4 KiB (copy-up)", blockSize: 4 << 10, random: true, write: true, rewrite: false),
    Workload(name: "random write 4 KiB (rewrite)", blockSize: 4 << 10, random: true, write: true, rewrite: true),
    Workload(name: "sequential read 64 KiB", blockSize: 64 << 10, random: false, write: false, rewrite: false),
    Workload(name: "sequential read 4 KiB", blockSize: 4 << 10, random: false, write: false, rewrite: false),
    Workload(name: "random read 64 KiB", blockSize: 64 << 10, random: true, write: false, rewrite: false),
    Workload(name: "random read 4 KiB", blockSize: 4 << 10, random: true, write: false, rewrite: false),
]

StandardOutput.lineBuffered()
print(
    "| workload (\(options.sizeMiB) MiB disk, best of \(options.runs)) | raw MB/s | overlay MB/s | overlay / raw | raw MB/s incl. flush | overlay MB/s incl. flush | overlay / raw |"
)
print("|---|---|---|---|---|---|---|")
let raw = try RawFileBackend(path: rawPath, readOnly: false)
func format(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
for workload in workloads {
    var rawBest = (requests: 0.0, durable: 0.0), overlayBest = (requests: 0.0, durable: 0.0)
    for _ in 0..<options.runs {
        let touched = offsets(for: workload, using: &generator)
        let rawRun = try run(workload, on: raw, offsets: touched)
        let overlayRun = try run(workload, on: try overlayFor(workload, offsets: touched), offsets: touched)
        rawBest = (max(rawBest.requests, rawRun.requests), max(rawBest.durable, rawRun.durable))
        overlayBest = (max(overlayBest.requests, overlayRun.requests), max(overlayBest.durable, overlayRun.durable))
    }
    var row =
        "| \(workload.name) | \(format(rawBest.requests)) | \(format(overlayBest.requests)) | \(format(overlayBest.requests / rawBest.requests, 2)) |"
    row +=
        workload.write
        ? " \(format(rawBest.durable)) | \(format(overlayBest.durable)) | \(format(overlayBest.durable / rawBest.durable, 2)) |"
        : " | | |"
    print(row)
}
