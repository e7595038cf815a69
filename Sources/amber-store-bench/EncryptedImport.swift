import AmberCore
import AmberModel
import AmberStore
import Foundation
import Glibc

/// `--encryption`: import of the same image into a plain and into an encrypted store (issue 11's goal: the
/// encrypted import at least 0.85x as fast), each round a fresh home of each kind, alternating plain and
/// encrypted so that whatever else the machine does (other builds share it) falls on both alike. Each import
/// goes through the same path as the store benchmark's import (a writer: lease, name, compress, seal, pack
/// write; fsync; the chunk rows in one catalog transaction), and reports where its thread time went; opening the encrypted store (one scrypt derivation) is timed on its own,
/// as every command pays it once.
func compareEncryptedImport(image: String, size: Int, workDirectory: String, rounds: Int) throws {
    let passphrase = Array("amber benchmark passphrase".utf8)
    let keyFile = workDirectory + "/bench.key"
    try Data(passphrase).write(to: URL(fileURLWithPath: keyFile))
    var plain: [Double] = [], encrypted: [Double] = [], unlock: [Double] = []
    var plainCPU: [Double] = [], encryptedCPU: [Double] = []
    var plainExport: [Double] = [], encryptedExport: [Double] = []
    for round in 1...rounds {
        for encrypt in [false, true] {
            let homePath = workDirectory + "/home-\(encrypt ? "encrypted" : "plain")-\(round)"
            var home = AmberHome(explicit: homePath, keyFile: keyFile)
            home.keyInput.promptsOnTerminal = false
            try FileManager.default.createDirectory(
                atPath: homePath, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            if encrypt {
                try ChunkStore.createEncrypted(directory: home.storeDirectory, passphrase: passphrase)
                StoreUnlock.forget()
            }
            var context: StoreContext!
            let opened = try seconds { context = try StoreContext(home: home) }
            if encrypt { unlock.append(opened) }
            sync()
            var stages = IngestTimings()
            var root = ChunkDigest.zero
            let cpuBefore = processCPUSeconds()
            let faultsBefore = minorFaults()
            let elapsed = try seconds {
                try context.write { writer in
                    root = try writer.ingest(file: image).manifest
                    stages = writer.timings
                } commit: { _, _ in
                }
            }
            let cpu = processCPUSeconds() - cpuBefore
            let faults = minorFaults() - faultsBefore
            if encrypt { encrypted.append(elapsed); encryptedCPU.append(cpu) } else { plain.append(elapsed); plainCPU.append(cpu) }
            func s(_ nanos: UInt64) -> String { fmt(Double(nanos) / 1e9, 2) }
            print(
                "- round \(round), \(encrypt ? "encrypted" : "plain"): \(fmt(elapsed, 3)) s (\(gbps(size, elapsed))), CPU \(fmt(cpu, 2)) s, \(faults) page faults; thread-seconds: "
                    + "read \(s(stages.readNanos)), zero check \(s(stages.zeroCheckNanos)), naming \(s(stages.hashNanos)), lookup \(s(stages.lookupNanos)), "
                    + "LZ4 \(s(stages.compressNanos)), seal \(s(stages.sealNanos)), write \(s(stages.writeNanos))")
            // Read back (every chunk opened and re-named) to tmpfs, so the disk does not decide it.
            let output = "/dev/shm/amber-encrypted-bench-\(getpid())"
            sync()
            let exported = try seconds { _ = try context.reader.materialize(root, toPath: output) }
            try FileManager.default.removeItem(atPath: output)
            if encrypt { encryptedExport.append(exported) } else { plainExport.append(exported) }
            print("  export to /dev/shm: \(fmt(exported, 3)) s")
            try FileManager.default.removeItem(atPath: homePath)
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    print()
    printCryptoRates()
    print()
    print("| import of the \(mib(size)) mixed image | wall, median of \(rounds) | best | CPU (user + sys), median |")
    print("|---|---|---|---|")
    print(
        "| plain store | \(fmt(median(plain), 3)) s (\(gbps(size, median(plain)))) | \(fmt(plain.min()!, 3)) s | \(fmt(median(plainCPU), 2)) s |"
    )
    print(
        "| encrypted store (AES-256-GCM payloads, HMAC-SHA256 names) | \(fmt(median(encrypted), 3)) s (\(gbps(size, median(encrypted)))) "
            + "| \(fmt(encrypted.min()!, 3)) s | \(fmt(median(encryptedCPU), 2)) s |")
    print()
    print(
        "Export of the same image (materialize to /dev/shm, each chunk read, opened, decoded and re-named): plain "
            + "\(fmt(median(plainExport), 3)) s, encrypted \(fmt(median(encryptedExport), 3)) s median: "
            + "\(fmt(median(plainExport) / median(encryptedExport)))x.")
    print()
    print(
        "Encrypted vs plain throughput: **\(fmt(median(plain) / median(encrypted)))x** (medians; best against best "
            + "\(fmt(plain.min()! / encrypted.min()!))x; CPU time \(fmt(median(plainCPU) / median(encryptedCPU)))x; goal >= 0.85x). Opening the encrypted store (scrypt N=2^15, r=8, p=1, once per "
            + "command): \(fmt(median(unlock), 3)) s median.")
}

/// Per-core rates on 64 KiB chunks of random bytes, one thread: what naming and sealing add per byte stored.
func printCryptoRates() {
    let chunk = 64 << 10
    let sample = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 20, alignment: 4096)
    defer { sample.deallocate() }
    var generator = BenchContent(seed: 7)
    generator.fillRandom(sample)
    let keys = StoreKeys(master: StoreKeys.randomMaster())
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk + PayloadSealer.overhead, alignment: 16)
    defer { output.deallocate() }
    let header = [UInt8](repeating: 1, count: 48)
    func rate(_ body: (UnsafeRawBufferPointer) -> Void) -> String {
        let elapsed = seconds {
            for offset in stride(from: 0, to: sample.count, by: chunk) {
                body(UnsafeRawBufferPointer(rebasing: sample[offset..<(offset + chunk)]))
            }
        }
        return gbps(sample.count, elapsed)
    }
    let sha = rate { _ = ChunkNamer.sha256.digest(of: $0) }
    let hmac = rate { _ = keys.namer.digest(of: $0) }
    let seal = rate { chunk in header.withUnsafeBytes { _ = keys.payloads.seal(chunk, authenticating: $0, into: output) } }
    let sealed = UnsafeRawBufferPointer(output)
    let open = rate { _ in header.withUnsafeBytes { _ = keys.payloads.open(sealed, authenticating: $0) } }
    print(
        "Per core, 64 KiB chunks: SHA-256 names \(sha), HMAC-SHA256 names \(hmac), AES-256-GCM seal \(seal), open \(open) "
            + "(open of one sealed chunk, failing its tag check after the full GHASH pass).")
}

/// Minor page faults of this process so far (fresh memory costs one per page, and many more under PVM).
func minorFaults() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_minflt
}
