import AmberCore
import AmberStore
import Foundation
import Glibc

/// `--encryption`: import of the same image into a plain and into an encrypted store (issue 11's goal: the
/// encrypted import at least 0.85x as fast), each round a fresh home of each kind, alternating plain and
/// encrypted so that whatever else the machine does (other builds share it) falls on both alike. Each import
/// goes through the real path (`ImageService.importImage`: lease, hash, compress, seal, pack write, fsync,
/// records, catalog transaction); opening the encrypted store (one scrypt derivation) is timed on its own,
/// as every command pays it once.
func compareEncryptedImport(image: String, size: Int, workDirectory: String, rounds: Int) throws {
    let passphrase = Array("amber benchmark passphrase".utf8)
    let keyFile = workDirectory + "/bench.key"
    try Data(passphrase).write(to: URL(fileURLWithPath: keyFile))
    var plain: [Double] = [], encrypted: [Double] = [], unlock: [Double] = []
    for round in 1...rounds {
        for encrypt in [false, true] {
            let homePath = workDirectory + "/home-\(encrypt ? "encrypted" : "plain")-\(round)"
            var home = AmberHome(explicit: homePath, keyFile: keyFile)
            home.keyInput.promptsOnTerminal = false
            if encrypt {
                try FileManager.default.createDirectory(atPath: homePath, withIntermediateDirectories: true)
                try ChunkStore.createEncrypted(directory: home.storeDirectory, passphrase: passphrase)
                StoreUnlock.forget()
            }
            var context: StoreContext!
            let opened = try seconds { context = try StoreContext(home: home) }
            if encrypt { unlock.append(opened) }
            sync()
            let elapsed = try seconds { _ = try ImageService(context: context).importImage(file: image, name: "base") }
            if encrypt { encrypted.append(elapsed) } else { plain.append(elapsed) }
            print("- round \(round), \(encrypt ? "encrypted" : "plain"): \(fmt(elapsed, 3)) s (\(gbps(size, elapsed)))")
            try FileManager.default.removeItem(atPath: homePath)
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    print()
    print("| import of the \(mib(size)) mixed image | median of \(rounds) | best |")
    print("|---|---|---|")
    print("| plain store | \(fmt(median(plain), 3)) s (\(gbps(size, median(plain)))) | \(fmt(plain.min()!, 3)) s |")
    print("| encrypted store (AES-256-GCM payloads, HMAC-SHA256 names) | \(fmt(median(encrypted), 3)) s (\(gbps(size, median(encrypted)))) | \(fmt(encrypted.min()!, 3)) s |")
    print()
    print("Encrypted vs plain throughput: **\(fmt(median(plain) / median(encrypted)))x** (medians; best against best "
        + "\(fmt(plain.min()! / encrypted.min()!))x; goal >= 0.85x). Opening the encrypted store (scrypt N=2^15, r=8, p=1, once per "
        + "command): \(fmt(median(unlock), 3)) s median.")
}
