import AmberCatalog
import AmberCore
import AmberModel
import AmberStore
import AmberSystem
import CLZ4
import Foundation
import Glibc

// amber-store-bench [--dir DIR] [--size-mib N] [--throughput-only | --encryption [--rounds N]]
// Import/export throughput of the store on a mixed image against `cp` and `lz4 -1` on the same file in
// the same run, where the time goes, the growth of ten 5%-churn generations, and the chunk-size trade-off.

StandardOutput.lineBuffered()
let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: String) -> String {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
    return arguments[index + 1]
}
let workDirectory = option("--dir", "/var/tmp/amber-store-bench")
let size = Int(option("--size-mib", "1024"))! << 20
let chunk = ChunkStore.defaultChunkSize
try? FileManager.default.removeItem(atPath: workDirectory)
try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
func path(_ name: String) -> String { workDirectory + "/" + name }

// MARK: - The image: 1 MiB regions, half zero, a quarter text, a quarter random

let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
let loadAverage = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(
    separator: " ")
let imagePath = path("mixed.img")
let imageFile = try FileDescriptor.open(imagePath, O_RDWR | O_CREAT | O_TRUNC)
var generator = BenchContent(seed: 42)
let region = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
let regionKinds = (0..<(size >> 20)).map(BenchContent.kind(ofRegion:))
for (index, kind) in regionKinds.enumerated() {
    switch kind {
    case .zero: region.initializeMemory(as: UInt8.self, repeating: 0)
    case .text: generator.fillText(region)
    case .random: generator.fillRandom(region)
    }
    try imageFile.write(UnsafeRawBufferPointer(region), at: UInt64(index) << 20)
}
warm(imagePath)
let zeroShare = Double(regionKinds.filter { $0 == .zero }.count) / Double(regionKinds.count)
print(
    "# amber store benchmark: \(mib(size)) mixed image (\(fmt(zeroShare * 100, 0))% zero regions, rest text/random), \(ProcessInfo.processInfo.activeProcessorCount) cores"
)
print()

if arguments.contains("--encryption") {
    print("Load average at the start: \(loadAverage).")
    print()
    try compareEncryptedImport(image: imagePath, size: size, workDirectory: workDirectory, rounds: Int(option("--rounds", "3"))!)
    print()
    print(
        "Load average at the end: \(((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " "))."
    )
    try FileManager.default.removeItem(atPath: workDirectory)
    exit(0)
}

// MARK: - References, same file, same run. Every timed write starts after a sync, so none of them pays
// for writing back another's dirty pages.

let shmDirectory = "/dev/shm/amber-store-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: shmDirectory, withIntermediateDirectories: true)
func shmPath(_ name: String) -> String { shmDirectory + "/" + name }

/// Runs a reference tool after a sync; returns its time and the bytes its output allocated on disk.
func reference(_ arguments: [String], output: String) -> (seconds: Double, allocated: Int) {
    sync()
    let elapsed = runTool(arguments)
    let allocated = allocatedBytes(output)
    try? FileManager.default.removeItem(atPath: output)
    return (elapsed, allocated)
}

let cpRun = reference(["cp", imagePath, path("cp.out")], output: path("cp.out"))
let cpSparseRun = reference(["cp", "--sparse=always", imagePath, path("cp.out")], output: path("cp.out"))
let ddRun = reference(
    ["dd", "if=/dev/zero", "of=\(path("dd.out"))", "bs=1M", "count=\(size >> 20)", "status=none"], output: path("dd.out"))
let ddSyncRun = reference(
    ["dd", "if=/dev/zero", "of=\(path("dd.out"))", "bs=1M", "count=\(size >> 20)", "conv=fdatasync", "status=none"],
    output: path("dd.out"))
let cpSeconds = cpRun.seconds
sync()
let lz4Seconds = runTool(["lz4", "-1", "-f", "-q", imagePath, path("ref.lz4")])
let lz4Size = fileSize(path("ref.lz4"))
let unlz4Run = reference(["lz4", "-d", "-f", "-q", path("ref.lz4"), path("ref.out")], output: path("ref.out"))
let unlz4Seconds = unlz4Run.seconds
let shmCpRun = reference(["cp", imagePath, shmPath("cp.out")], output: shmPath("cp.out"))
let shmUnlz4Run = reference(["lz4", "-d", "-f", "-q", path("ref.lz4"), shmPath("ref.out")], output: shmPath("ref.out"))
try FileManager.default.removeItem(atPath: path("ref.lz4"))

// Per-core SHA-256 over the non-zero data: the hashing limit.
let sample = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 20, alignment: 4096)
generator.fillRandom(sample)
let shaSeconds = seconds {
    for offset in stride(from: 0, to: sample.count, by: chunk) {
        _ = ChunkDigest.of(UnsafeRawBufferPointer(rebasing: sample[offset..<(offset + chunk)]))
    }
}
let shaRate = Double(sample.count) / shaSeconds

/// Per-core LZ4 speed on 64 KiB chunks of `sample` (one thread, as each ingest worker runs it).
func lz4Rate(_ sample: UnsafeMutableRawBufferPointer) -> Double {
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(LZ4_compressBound(Int32(chunk))), alignment: 16)
    defer { output.deallocate() }
    let elapsed = seconds {
        for offset in stride(from: 0, to: sample.count, by: chunk) {
            _ = LZ4_compress_default(
                sample.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                output.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(chunk), Int32(chunk - 1))
        }
    }
    return Double(sample.count) / elapsed
}
let lz4RandomRate = lz4Rate(sample)
generator.fillText(sample)
let lz4TextRate = lz4Rate(sample)

// MARK: - Import through the real path: store + catalog, fsync, one transaction

let home = AmberHome(explicit: path("home"))
let context = try StoreContext(home: home)
var ingest: IngestResult!
var sealed: WriteCommit!
var timings = IngestTimings()
var ingestSeconds = 0.0
var commitSeconds = 0.0
sync()
let importCPUBefore = processCPUSeconds()
let importSeconds = try seconds {
    try context.store.write(index: context.chunkIndex) { writer in
        ingestSeconds = try seconds { ingest = try writer.ingest(file: imagePath) }
        timings = writer.timings
    } commit: { written, _ in
        sealed = written
        commitSeconds = try seconds {
            try context.catalog.write { db in
                try db.addChunks(sealed.newChunks, packs: sealed.packs)
                try db.insertImage(
                    ImageRecord(
                        name: "base", manifest: ingest.manifest.bytes, logicalBytes: Int64(size),
                        storedBytes: Int64(ingest.newStoredBytes), chunkSize: chunk, created: Date()))
            }
        }
    }
}
let importCPU = processCPUSeconds() - importCPUBefore
// The seal (fsync of the packs) is what the write does between the ingest and the commit.
let sealSeconds = importSeconds - ingestSeconds - commitSeconds
let baseStats = try context.statistics()

// MARK: - Export through the real path (catalog, lease, materialize), to the bench directory and to tmpfs

let images = ImageService(context: context)
func exportRun(to output: String, fsync durable: Bool = false) throws -> (seconds: Double, fsync: Double, allocated: Int, cpu: Double) {
    sync()
    let cpuBefore = processCPUSeconds()
    let elapsed = try seconds { try images.export(name: "base", to: output) }
    let cpu = processCPUSeconds() - cpuBefore
    var syncSeconds = 0.0
    if durable {
        let file = try FileDescriptor.open(output, O_RDONLY)
        syncSeconds = try seconds { try file.sync() }
    }
    _ = runTool(["cmp", imagePath, output])
    let allocated = allocatedBytes(output)
    try FileManager.default.removeItem(atPath: output)
    return (elapsed, syncSeconds, allocated, cpu)
}
let exportRunResult = try exportRun(to: path("export.out"))
let exportSeconds = exportRunResult.seconds
let durableRun = try exportRun(to: path("export.out"), fsync: true)
// The disk's own direct-write speed for as many bytes as the export wrote, in the same moment.
let directBytesMiB = (exportRunResult.allocated + (1 << 20) - 1) >> 20
let ddDirectRun = reference(
    ["dd", "if=/dev/zero", "of=\(path("dd.out"))", "bs=1M", "count=\(directBytesMiB)", "oflag=direct", "status=none"],
    output: path("dd.out"))
let shmExport = try exportRun(to: shmPath("export.out"))

// The same materialize through the page cache (the public FileDescriptor entry point never opens
// O_DIRECT), to show what the direct writes are worth on this machine.
let bufferedManifest = try context.reader.manifest(ingest.manifest)
sync()
let bufferedSeconds = try seconds {
    let file = try FileDescriptor.open(path("export.out"), O_RDWR | O_CREAT | O_TRUNC)
    try context.reader.materialize(bufferedManifest, into: file)
}
_ = runTool(["cmp", imagePath, path("export.out")])
try FileManager.default.removeItem(atPath: path("export.out"))

// The same materialize as the export once more, with a reader of our own, for where its time goes.
let breakdownReader = context.reader
sync()
let breakdownSeconds = try seconds {
    try breakdownReader.materialize(ingest.manifest, toPath: path("export.out"), bypassingPageCache: true)
}
try FileManager.default.removeItem(atPath: path("export.out"))
let exportTimings = breakdownReader.materializeTimings
try FileManager.default.removeItem(atPath: shmDirectory)

print("## Throughput (logical bytes per second of wall time; every write starts after a sync, none fsyncs unless it says so)")
print()
print("| operation | time | throughput | written to disk | vs reference |")
print("|---|---|---|---|---|")
func row(_ name: String, _ seconds: Double, _ allocated: Int?, _ versus: String = "") {
    print("| \(name) | \(fmt(seconds, 3)) s | \(gbps(size, seconds)) | \(allocated.map(mib) ?? "") | \(versus) |")
}
row("`cp` (reference)", cpSeconds, cpRun.allocated)
row("`cp --sparse=always` (reference)", cpSparseRun.seconds, cpSparseRun.allocated)
row("`dd if=/dev/zero bs=1M` (raw write, reference)", ddRun.seconds, ddRun.allocated)
row("`dd ... conv=fdatasync` (raw write to the disk, reference)", ddSyncRun.seconds, ddSyncRun.allocated)
row("`lz4 -1` compress (reference)", lz4Seconds, nil)
row("`lz4 -d` decompress (reference, sparse output)", unlz4Seconds, unlz4Run.allocated)
row(
    "amber import (hash+LZ4+pack write+fsync+catalog)", importSeconds, nil,
    "\(fmt(lz4Seconds / importSeconds))x lz4 -1, \(fmt(cpSeconds / importSeconds))x cp")
row(
    "amber export (read+LZ4 decode+SHA-256 verify+sparse write)", exportSeconds, exportRunResult.allocated,
    "\(fmt(unlz4Seconds / exportSeconds))x lz4 -d, \(fmt(cpSeconds / exportSeconds))x cp, \(fmt(cpSparseRun.seconds / exportSeconds))x cp --sparse=always"
)
row(
    "`dd oflag=direct`, as many bytes as the export writes (the disk's limit, reference)", ddDirectRun.seconds, ddDirectRun.allocated,
    "amber export takes \(fmt(exportSeconds / ddDirectRun.seconds))x its time")
row(
    "amber materialize through the page cache (no O_DIRECT)", bufferedSeconds, nil,
    "\(fmt(unlz4Seconds / bufferedSeconds))x lz4 -d, \(fmt(cpSeconds / bufferedSeconds))x cp, \(fmt(cpSparseRun.seconds / bufferedSeconds))x cp --sparse=always"
)
row(
    "amber export + fsync of the result", durableRun.seconds + durableRun.fsync, durableRun.allocated,
    "\(fmt(ddSyncRun.seconds / (durableRun.seconds + durableRun.fsync)))x dd conv=fdatasync (fsync alone \(fmt(durableRun.fsync, 3)) s)")
row("`cp` to tmpfs /dev/shm (reference)", shmCpRun.seconds, nil)
row("`lz4 -d` to tmpfs /dev/shm (reference)", shmUnlz4Run.seconds, nil)
row(
    "amber export to tmpfs /dev/shm", shmExport.seconds, nil,
    "\(fmt(shmUnlz4Run.seconds / shmExport.seconds))x lz4 -d, \(fmt(shmCpRun.seconds / shmExport.seconds))x cp")
print()
print(
    "CPU time of the export (user + system, all threads): \(fmt(exportRunResult.cpu, 3)) s to \(workDirectory), "
        + "\(fmt(shmExport.cpu, 3)) s to /dev/shm; with both cores to itself the export to disk cannot beat \(fmt(exportRunResult.cpu / cores, 3)) s "
        + "(\(gbps(size, exportRunResult.cpu / cores))) of CPU, nor the disk's direct-write speed for the \(mib(exportRunResult.allocated)) it writes. "
        + "Load average at the start: \(loadAverage).")
print()
print(
    "## Where export time goes (a second export to \(workDirectory), \(fmt(breakdownSeconds, 3)) s wall; stages summed over worker threads)"
)
print()
print("| stage | thread-seconds |")
print("|---|---|")
for (name, nanos) in [
    ("index lookup (catalog, wall)", exportTimings.lookupNanos), ("pack read (pread/preadv)", exportTimings.readNanos),
    ("LZ4 decode", exportTimings.decodeNanos), ("SHA-256 check", exportTimings.hashNanos),
    ("write (pwrite of non-zero runs)", exportTimings.writeNanos),
] {
    print("| \(name) | \(fmt(Double(nanos) / 1e9, 3)) |")
}
print()
print("## Size")
print()
print("| | bytes | ratio |")
print("|---|---|---|")
print("| image | \(mib(size)) | 1.00x |")
print("| `lz4 -1` file | \(mib(lz4Size)) | \(fmt(Double(size) / Double(lz4Size)))x |")
print(
    "| amber pack files | \(mib(baseStats.packFileBytes)) | \(fmt(Double(size) / Double(baseStats.packFileBytes)))x (zero elision \(fmt(Double(size) / Double(baseStats.uniqueBytes)))x, LZ4 \(fmt(baseStats.compressionRatio))x) |"
)
print()
print(
    "## Where import time goes (summed over worker threads; wall \(fmt(importSeconds, 3)) s on \(ProcessInfo.processInfo.activeProcessorCount) cores)"
)
print()
let stages: [(String, UInt64)] = [
    ("copy of non-zero chunks out of the mapping (pread when it cannot be mapped)", timings.readNanos),
    ("zero check", timings.zeroCheckNanos),
    ("SHA-256", timings.hashNanos), ("index lookup (catalog)", timings.lookupNanos),
    ("LZ4 compress", timings.compressNanos), ("pack write (pwrite)", timings.writeNanos),
]
print("| stage | thread-seconds | share of worker time |")
print("|---|---|---|")
let workerTotal = Double(stages.reduce(0) { $0 + $1.1 }) / 1e9
for (name, nanos) in stages {
    print("| \(name) | \(fmt(Double(nanos) / 1e9, 3)) | \(fmt(Double(nanos) / 1e9 / workerTotal * 100, 0))% |")
}
print("| fsync of packs (wall) | \(fmt(sealSeconds, 3)) | |")
print("| catalog transaction (wall, \(sealed.newChunks.count) chunk rows) | \(fmt(commitSeconds, 3)) | |")
let nonZero = Double(ingest.chunkCount - ingest.zeroChunks) * Double(chunk)
let textBytes = Double(regionKinds.filter { $0 == .text }.count << 20)
let randomBytes = Double(regionKinds.filter { $0 == .random }.count << 20)
let cpuFloor = nonZero / shaRate + textBytes / lz4TextRate + randomBytes / lz4RandomRate
print()
print(
    "Limit check, per core on this machine in this run: SHA-256 \(gbps(Int(shaRate), 1)), LZ4 on text chunks \(gbps(Int(lz4TextRate), 1)), "
        + "LZ4 giving up on random chunks \(gbps(Int(lz4RandomRate), 1)). Hashing \(mib(Int(nonZero))) and compressing it costs at least "
        + "\(fmt(cpuFloor, 3)) core-seconds, so on \(Int(cores)) cores import cannot beat \(fmt(cpuFloor / cores, 3)) s "
        + "(\(gbps(size, cpuFloor / cores))) before any I/O; measured \(fmt(importSeconds, 3)) s wall, of which fsync \(fmt(sealSeconds, 3)) s, "
        + "using \(fmt(importCPU, 3)) CPU seconds (user + system, all threads): with both cores to itself, \(fmt(importCPU / cores, 3)) s "
        + "(\(gbps(size, importCPU / cores))).")
print()

if arguments.contains("--throughput-only") {
    try FileManager.default.removeItem(atPath: workDirectory)
    exit(0)
}

// MARK: - Growth: ten generations, each changing 5% of the non-zero chunks (same kind of content)

let chunksPerRegion = (1 << 20) / chunk
let dataChunks = regionKinds.enumerated().filter { $0.element != .zero }.flatMap { region, _ in
    (0..<chunksPerRegion).map { region * chunksPerRegion + $0 }
}
let churn = dataChunks.count / 20
let patch = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
var churnSeconds: [Double] = []
for generation in 1...10 {
    var picker = BenchContent(seed: UInt64(1000 + generation))
    var picked = Set<Int>()
    while picked.count < churn { picked.insert(dataChunks[Int(picker.next() % UInt64(dataChunks.count))]) }
    for index in picked {
        if regionKinds[index / chunksPerRegion] == .text { generator.fillText(patch) } else { generator.fillRandom(patch) }
        try imageFile.write(UnsafeRawBufferPointer(patch), at: UInt64(index) * UInt64(chunk))
    }
    churnSeconds.append(try seconds { _ = try images.importImage(file: imagePath, name: "gen\(generation)") })
}
let grownStats = try context.statistics()
print("## Growth: ten images, each with 5% of its non-zero chunks changed from the previous (\(churn) chunks)")
print()
print("- one image stored: \(mib(baseStats.packFileBytes)); after ten more generations: \(mib(grownStats.packFileBytes))")
print("- growth: **\(fmt(Double(grownStats.packFileBytes) / Double(baseStats.packFileBytes)))x** one image's stored size (ideal 1.50x)")
print(
    "- incremental import of each generation: \(fmt(churnSeconds.reduce(0, +) / 10, 3)) s average (\(gbps(size, churnSeconds.reduce(0, +) / 10)))"
)
print()

// MARK: - Chunk size: scattered 4 KiB page changes (as in guest memory) at several chunk sizes

let experimentSize = min(size, 256 << 20)
print("## Chunk size: \(mib(experimentSize)) of the image, then 1% of its non-zero 4 KiB pages rewritten at random")
print()
print("| chunk size | import | zero chunks | stored | incremental stored | manifest | index rows |")
print("|---|---|---|---|---|---|---|")
let pageCount = experimentSize / 4096
for chunkSize in [16 << 10, 64 << 10, 256 << 10, 1 << 20] {
    let directory = path("chunks-\(chunkSize)")
    let store = try ChunkStore(directory: URL(fileURLWithPath: directory), chunkSize: chunkSize)
    let index = InMemoryChunkIndex()
    let source = try MappedRegion(size: experimentSize, fd: imageFile, protection: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE)
    func ingestRegion() throws -> (IngestResult, Double) {
        var result: IngestResult!
        var elapsed = 0.0
        try index.write(to: store) { writer in
            elapsed = try seconds { result = try writer.ingest(buffer: UnsafeRawBufferPointer(source.buffer)) }
        }
        return (result, elapsed)
    }
    let (base, elapsed) = try ingestRegion()
    var picker = BenchContent(seed: 7)
    var changed = 0
    while changed < pageCount / 100 {
        let page = Int(picker.next() % UInt64(pageCount))
        guard regionKinds[(page * 4096) >> 20] != .zero else { continue }
        source.base.storeBytes(of: picker.next(), toByteOffset: page * 4096 + Int(picker.next() % 4088), as: UInt64.self)
        changed += 1
    }
    let (delta, _) = try ingestRegion()
    print(
        "| \(chunkSize >> 10) KiB | \(gbps(experimentSize, elapsed)) | \(base.zeroChunks * 100 / max(1, base.chunkCount))% | \(mib(base.newStoredBytes)) "
            + "| \(mib(delta.newStoredBytes)) | \(mib(base.chunkCount * 32)) per image | \(index.allChunks.count) |")
    try FileManager.default.removeItem(atPath: directory)
}
print()
try FileManager.default.removeItem(atPath: workDirectory)
