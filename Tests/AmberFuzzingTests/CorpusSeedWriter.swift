import AmberControl
@testable import AmberFuzzing
import AmberMachineState
import AmberNetwork
import AmberStore
import AmberVMM
import Foundation
import Testing

/// Writes the seed inputs of `Fuzz/corpus` from what Amber itself writes: run with
/// `AMBER_WRITE_FUZZ_SEEDS=1 swift test --filter CorpusSeedWriter` (the machine-state seeds come from a real
/// tiny guest: `--filter FuzzSeedStates` in AmberVMMTests). Seeds are overwritten, crash inputs kept.
@Suite("Fuzz corpus seed writer", .enabled(if: ProcessInfo.processInfo.environment["AMBER_WRITE_FUZZ_SEEDS"] != nil))
struct CorpusSeedWriter {
    func write(_ bytes: [UInt8], target: String, name: String) throws {
        let directory = corpusDirectory.appendingPathComponent(target)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: directory.appendingPathComponent("seed-" + name))
    }

    /// A store of 4 KiB chunks holding an LZ4 chunk, a raw one, a delta on the first and a manifest,
    /// as one pack; and the delta's payload and the manifest on their own.
    @Test func storeSeeds() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amber-seeds-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ChunkStore(directory: directory, chunkSize: 4096)
        let index = InMemoryChunkIndex()
        let text = Array(String(repeating: "amber keeps every snapshot. ", count: 300).utf8.prefix(8192))
        var noise = SystemRandomNumberGenerator()
        let random = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &noise) }
        var changed = text
        changed.replaceSubrange(4096..<4196, with: random.prefix(100))
        // A delta's base must be committed (readable through the index) before the delta is written.
        let (base, rawChunk) = try index.write(to: store) { writer in
            (try writer.put(text), try writer.put(random))
        }
        let manifest = Manifest(chunkSize: 4096, logicalLength: 3 * 4096 - 100, digests: [base, .zero, rawChunk])
        let (delta, root) = try index.write(to: store) { writer in
            (try changed.withUnsafeBytes { try writer.put($0, deltaBase: base) }, try writer.put(manifest))
        }
        let reader = ChunkReader(store: store, index: index)

        let packName = try #require(try store.packFileNames().first)
        let pack = try [UInt8](Data(contentsOf: URL(fileURLWithPath: store.packPath(packName))))
        try write(pack, target: "pack", name: "lz4-raw-delta-manifest.pack")
        let deltaLocation = try reader.location(of: delta)
        #expect(deltaLocation.codec == .delta)
        let recordStart = Int(deltaLocation.offset)
        let payload = pack[(recordStart + PackFormat.recordHeaderSize)..<(recordStart + deltaLocation.recordLength)]
        let length = deltaLocation.rawLength - 1
        try write(
            [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16)] + payload, target: "delta", name: "one-changed-page")

        let rootBytes = try reader.chunk(root)
        let pieceBytes = manifest.pieces()[0]
        try write(littleEndian(UInt32(rootBytes.count)) + rootBytes + pieceBytes, target: "manifest", name: "three-chunks")
        let empty = Manifest(chunkSize: 65536, logicalLength: 0, digests: []).encodeRoot(pieces: [])
        try write(littleEndian(UInt32(empty.count)) + empty, target: "manifest", name: "empty")
        let zeroPiece = Manifest(chunkSize: 4096, logicalLength: 1 << 20, digests: []).encodeRoot(pieces: [.zero, .zero])
        try write(littleEndian(UInt32(zeroPiece.count)) + zeroPiece, target: "manifest", name: "all-zero-pieces")
    }

    @Test func configurationSeeds() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]  // as VMLauncher writes it
        // /proc/self/exe is a readable regular file on any host, so these pass the check and the fuzzer starts deep.
        var boot = VMConfiguration(
            name: "web-1", kernelPath: "/proc/self/exe", initrdPath: "/proc/self/exe",
            commandLine: "console=ttyS0 reboot=k panic=1 pci=off", memoryBytes: 256 << 20, vcpus: 2,
            disks: [DiskConfiguration(path: "/proc/self/exe", readOnly: true)],
            controlSocketPath: "/root/.amber/vms/web-1/control.sock", consoleLogPath: "/root/.amber/vms/web-1/console.log")
        boot.snapshotPauseLimitSeconds = 5
        boot.networkInterfaces = [
            NetworkInterfaceConfiguration(tapName: "amber-web-1", macAddress: "52:54:00:12:34:56"),
            NetworkInterfaceConfiguration(tapName: "clone-0", macAddress: "02:00:00:00:00:01", networkNamespacePath: "/run/netns/amber-c0"),
        ]
        try write(Array(try encoder.encode(boot)), target: "vm-config", name: "boot.json")
        let restore = VMConfiguration(
            name: "web-1-clone", kernelPath: "", initrdPath: nil, commandLine: "",
            memoryBytes: 128 << 20, vcpus: 1,
            disks: [DiskConfiguration(path: "/proc/self/exe", readOnly: false, overlayPath: "/tmp/overlay")],
            controlSocketPath: "/tmp/c.sock", consoleLogPath: nil,
            restore: RestoreSource(snapshotID: "s-0001", statePath: "/proc/self/exe", memoryPath: "/proc/self/exe"))
        try write(Array(try encoder.encode(restore)), target: "vm-config", name: "restore.json")
    }

    /// A network's definition and a NIC table with two VMs, one publishing ports, as Amber writes them.
    @Test func networkSeeds() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try write(Array(try encoder.encode(NetworkFilesFuzzTarget.network)), target: "network-definition", name: "web.json")
        let attachments = [
            AmberNetwork.Attachment(
                vm: "web1", nic: 0, mac: "52:54:00:12:34:56", ipv4: IPv4Address("10.213.0.2")!, tap: "amt0123456789a",
                publishedPorts: [
                    PublishedPort(hostPort: 8080, guestPort: 80), PublishedPort(hostPort: 5353, guestPort: 53, transport: .udp),
                ]),
            AmberNetwork.Attachment(vm: "web2", nic: 0, mac: "52:54:00:12:34:57", ipv4: IPv4Address("10.213.0.3")!, tap: "amt0123456789b"),
        ]
        struct Table: Encodable {
            let version = 1
            let attachments: [AmberNetwork.Attachment]
        }
        try write(Array(try encoder.encode(Table(attachments: attachments))), target: "network-attachments", name: "two-vms.json")
    }

    @Test func controlSeeds() throws {
        func line<T: Encodable>(_ message: T) throws -> [UInt8] { try ControlProtocol.line(message) }
        try write(try line(ControlRequest.status), target: "control-request", name: "status")
        try write(try line(ControlRequest.snapshotBegin(memory: false)), target: "control-request", name: "disk-snapshot")
        try write(
            try line(ControlRequest.snapshotBegin(memory: true)) + line(ControlRequest.snapshotRelease) + line(ControlRequest.snapshotEnd)
                + line(ControlRequest.snapshotCommitted(id: "0193a5c2-7f0e-7a4b-9c1d-2e3f4a5b6c7d")),
            target: "control-request", name: "snapshot-session")
        try write(try line(ControlRequest.console) + Array("ls /\n".utf8), target: "control-request", name: "console")

        let status = VMStatus(
            name: "fuzz", pid: 4242, state: .running, vcpus: 2, memoryBytes: 256 << 20, uptimeSeconds: 12.5,
            memoryAddress: 0x7f00_0000_0000)
        try write(try line(ControlReply.status(status)), target: "control-response", name: "status")
        try write(
            try line(
                ControlReply.refused(
                    ControlRefusal(
                        .failed, "KVM_SET_REGS: Invalid argument",
                        cause: ControlRefusal.Cause(call: "KVM_SET_REGS", errno: 22)))),
            target: "control-response", name: "refusal")
        let configured = ControlResponseFuzzTarget.configuration.disks[0]
        let capture = SnapshotCapture(
            memoryBytes: 256 << 20, machineState: Data("AMBERMST".utf8), wasPaused: false,
            disks: [
                DiskCapture(
                    basePath: configured.path, overlayPath: configured.overlayPath, baseline: "s-0001",
                    changedChunks: [0, 7, 9], chunkSize: 65536)
            ],
            parent: "s-0001",
            memory: HeldMemory(
                path: "/proc/4243/mem", address: 0x7f00_0000_0000,
                untouched: UntouchedPages(pagemapPath: "/proc/4243/pagemap"),
                changes: MemoryChanges(baseline: "s-0001", pages: [PageRun(first: 0, count: 16), PageRun(first: 4096, count: 1)])))
        try write(
            try line(ControlReply.snapshotBegun(capture)) + line(ControlReply.snapshotReleased(pauseMicroseconds: 1830))
                + line(ControlReply.snapshotEnded(pauseMicroseconds: 2400)) + line(ControlReply.snapshotCommitted),
            target: "control-response", name: "snapshot-session")
    }

    @Test func policySeeds() throws {
        let shipped = corpusDirectory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policies")
        for file in try FileManager.default.contentsOfDirectory(atPath: shipped.path) where file.hasSuffix(".yaml") {
            try write(try [UInt8](Data(contentsOf: shipped.appendingPathComponent(file))), target: "policy", name: file)
        }
        let everyField = """
            name: everything
            vms: ["db-*", "cache"]
            schedule: "Mon..Fri *-*-1..7 02:00/6"
            timezone: Europe/Berlin
            memory: false
            keep: { last: 3, hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 2 }
            within: 30d
            max_stored: 20GiB

            """
        try write(Array(everyField.utf8), target: "policy", name: "every-field.yaml")
    }

    /// Key slots as `amber store init --encrypt` writes them (default and fast scrypt parameters), and crafted ones
    /// with correct checksums (so the parser's later checks are reached): scrypt asking for too much, a flipped
    /// byte, a cut file, a newer format.
    @Test func keySlotSeeds() throws {
        let master = StoreKeys.randomMaster()
        let real = try KeySlot.make(master: master, passphrase: Array("seed passphrase".utf8))
        try write(real.encoded(), target: "key-slot", name: "default-parameters")
        try write(
            try KeySlot.make(master: master, passphrase: [1], parameters: .fastForTests).encoded(), target: "key-slot",
            name: "fast-parameters")
        var huge = real
        huge.parameters = ScryptParameters(n: 1 << 30, r: 8, p: 1)
        try write(huge.encoded(), target: "key-slot", name: "huge-n")
        var costly = real
        costly.parameters = ScryptParameters(n: 1 << 20, r: 16, p: 16)
        try write(costly.encoded(), target: "key-slot", name: "costly-rp")
        var flipped = real.encoded()
        flipped[200] ^= 1
        try write(flipped, target: "key-slot", name: "flipped-byte")
        try write(Array(real.encoded().prefix(150)), target: "key-slot", name: "truncated")
        try write(
            Array(
                String(decoding: real.encoded(), as: UTF8.self).replacingOccurrences(of: "amber-key-slot 1", with: "amber-key-slot 9").utf8),
            target: "key-slot", name: "newer-format")
    }

    /// Record files as the store writes them (the input's first byte picks the type: 0 VM, 1 image, 2 snapshot),
    /// a tombstone, and damaged ones: a flipped body byte, a cut file, a newer format.
    @Test func recordSeeds() throws {
        let digest = String(repeating: "ab", count: 32)
        let vm = StoredRecord(description: VMDescription(name: "fuzz", config: "{\"name\":\"fuzz\",\"vcpus\":2}", created: 1_765_000_000))
        let image = StoredRecord(
            description: ImageDescription(
                name: "fuzz", manifest: digest, logicalBytes: 1 << 20, storedBytes: 4096,
                chunkSize: 65536, created: 1_765_000_000.5))
        let snapshot = StoredRecord(
            revision: 3,
            description: SnapshotDescription(
                id: RecordFuzzTarget.snapshotKey, vm: "fuzz", parent: "fedcba9876543210", created: 1_765_000_001, label: "before upgrade",
                kind: "full", memoryManifest: digest, diskManifest: nil, stateManifest: digest, logicalBytes: 1 << 26, storedBytes: 1 << 20,
                pauseMicroseconds: 5800, protected: true, policy: "nightly"))
        var tombstone = snapshot
        tombstone.removed = 1_765_000_100
        let files: [(String, [UInt8])] = [
            ("vm", [0] + (try RecordDirectory.file(vm, sealer: nil))),
            ("image", [1] + (try RecordDirectory.file(image, sealer: nil))),
            ("snapshot", [2] + (try RecordDirectory.file(snapshot, sealer: nil))),
            ("tombstone", [2] + (try RecordDirectory.file(tombstone, sealer: nil))),
        ]
        for (name, bytes) in files { try write(bytes, target: "record", name: name) }
        var flipped = files[2].1
        flipped[flipped.count - 20] ^= 1
        try write(flipped, target: "record", name: "flipped-byte")
        try write(Array(files[1].1.prefix(90)), target: "record", name: "truncated")
        try write(
            Array(String(decoding: files[0].1, as: UTF8.self).replacingOccurrences(of: "amber-record 1", with: "amber-record 7").utf8),
            target: "record", name: "newer-format")
    }

    private func littleEndian(_ value: UInt32) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
