import AmberModel
@testable import AmberStore
import AmberSystem
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// Materializing on every core: sparse output, batched writes, and corruption caught wherever it is.
@Suite struct MaterializeTests {
    /// Linux's whence values for lseek (Glibc's Swift module leaves them out: they need _GNU_SOURCE).
    static let seekData: Int32 = 3, seekHole: Int32 = 4

    /// 8 MiB of 1 MiB regions: text, zeros, random, zeros, … with a short tail, so runs of non-zero
    /// chunks end inside work batches and at their edges, and the last chunk is not a full one.
    static func mixed() -> [UInt8] {
        var bytes: [UInt8] = []
        for region in 0..<8 {
            switch region % 4 {
            case 0: bytes += TestContent.text(1 << 20, seed: UInt64(region))
            case 2: bytes += TestContent.random(1 << 20, seed: UInt64(region))
            default: bytes += [UInt8](repeating: 0, count: 1 << 20)
            }
        }
        // A single data chunk between zero chunks inside one batch, then an odd-sized tail.
        bytes += [UInt8](repeating: 0, count: 3 << 16) + TestContent.random(1 << 16, seed: 99) + [UInt8](repeating: 0, count: 2 << 16)
        return bytes + TestContent.text(12_345, seed: 100)
    }

    @Test(arguments: [false, true])
    func anExportHasHolesExactlyWhereTheZeroChunksWere(bypassingPageCache: Bool) throws {
        let test = try TestStore()
        let bytes = Self.mixed()
        let result = try test.ingest(bytes)
        let manifest = try test.reader.manifest(result.manifest)
        let path = test.directory.path("sparse.out")
        try test.reader.materialize(result.manifest, toPath: path, bypassingPageCache: bypassingPageCache)

        var info = stat()
        #expect(stat(path, &info) == 0)
        let dataBytes = manifest.digests.indices.filter { !manifest.digests[$0].isZero }.reduce(0) { $0 + manifest.length(ofChunk: $1) }
        // Slack for the file system's own blocks (an extent tree block or two); one zero chunk written
        // would add a whole 64 KiB.
        #expect(Int(info.st_blocks) * 512 <= dataBytes + 16384, "zero chunks took disk blocks")
        #expect(Int(info.st_blocks) * 512 >= dataBytes - 4096, "data chunks are missing blocks")

        let file = try FileDescriptor.open(path, O_RDONLY)
        if bypassingPageCache, Self.isDiskFileSystem(path) {
            // Written around the page cache: of the data, only the odd-sized tail's page is cached.
            #expect(try Self.cachedBytes(file, length: bytes.count) <= 4096)
        }
        for (index, digest) in manifest.digests.enumerated() {
            let offset = off_t(index * manifest.chunkSize)
            if digest.isZero {
                #expect(lseek(file.rawValue, offset, Self.seekHole) == offset, "chunk \(index) should be a hole")
            } else {
                #expect(lseek(file.rawValue, offset, Self.seekData) == offset, "chunk \(index) should be data")
            }
        }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
    }

    /// True for file systems on a block device, where O_DIRECT means "not through the page cache":
    /// the type of the longest mount point that contains `path`.
    static func isDiskFileSystem(_ path: String) -> Bool {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return false }
        let fields = mounts.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.count > 2 }
        let containing = fields.filter { path.hasPrefix($0[1] == "/" ? "/" : $0[1] + "/") }
        guard let mount = containing.max(by: { $0[1].count < $1[1].count }) else { return false }
        return ["ext4", "ext3", "xfs", "btrfs"].contains(mount[2])
    }

    /// Bytes of the file's first `length` bytes that sit in the page cache (mincore of a mapping).
    static func cachedBytes(_ file: FileDescriptor, length: Int) throws -> Int {
        let region = try MappedRegion(size: length, fd: file, protection: PROT_READ, flags: MAP_SHARED)
        let pages = (length + 4095) / 4096
        var resident = [UInt8](repeating: 0, count: pages)
        #expect(mincore(region.base, length, &resident) == 0)
        return resident.filter { $0 & 1 != 0 }.count * 4096
    }

    @Test func materializingIntoAMemfdReplacesWhatItHeld() throws {
        let test = try TestStore()
        let bytes = Self.mixed()
        let result = try test.ingest(bytes)
        let target = try MemFD.create(name: "guest", size: UInt64(bytes.count) * 2)
        let stale = try MappedRegion(size: bytes.count * 2, fd: target)
        stale.buffer.initializeMemory(as: UInt8.self, repeating: 0xA5)
        try test.reader.materialize(try test.reader.manifest(result.manifest), into: target)
        #expect(try target.size() == UInt64(bytes.count))
        let restored = try MappedRegion(size: bytes.count, fd: target)
        #expect(Array(UnsafeRawBufferPointer(restored.buffer)) == bytes)
    }

    enum Damage: CaseIterable { case rawPayload, lz4Payload, recordHeader, truncatedPack }

    /// Damage one chunk in the second half of a many-batch image: whichever worker reaches it, the
    /// export fails naming that chunk and leaves no file, and the reader still serves every other chunk.
    @Test(arguments: Damage.allCases)
    func damageAnywhereFailsTheParallelExportNamingTheChunk(damage: Damage) throws {
        let test = try TestStore()
        let result = try test.ingest(Self.mixed())
        let manifest = try test.reader.manifest(result.manifest)
        let stored = try manifest.digests.indices.filter { !manifest.digests[$0].isZero }
            .map { (index: $0, location: try test.reader.location(of: manifest.digests[$0])) }
        let victim: (index: Int, location: ChunkLocation)
        switch damage {
        case .rawPayload: victim = try #require(stored.last { $0.location.codec == .raw })
        case .lz4Payload, .recordHeader: victim = try #require(stored.last { $0.location.codec == .lz4 })
        case .truncatedPack: victim = try #require(stored.max { $0.location.offset < $1.location.offset })
        }
        if damage != .truncatedPack { #expect(victim.index > manifest.digests.count / 2) }
        let digest = manifest.digests[victim.index]
        let location = victim.location
        let pack = test.store.packPath(location.pack)
        switch damage {
        case .rawPayload, .lz4Payload:
            try flipByte(at: location.offset + UInt64(PackFormat.recordHeaderSize + location.storedLength / 2), in: pack)
        case .recordHeader:
            try flipByte(at: location.offset + 9, in: pack)
        case .truncatedPack:
            // The manifest's own record comes after the data, so this materializes the manifest read before.
            #expect(truncate(pack, off_t(location.offset) + 100) == 0)
        }

        func expectNamesTheChunk(_ body: () throws -> Void) {
            do {
                try body()
                Issue.record("materializing damaged data succeeded (\(damage))")
            } catch let error as StoreError {
                guard case .corruptChunk(let named, _, _, let reason) = error else { Issue.record("unexpected \(error)"); return }
                #expect(named == digest, "\(damage): \(reason)")
                #expect("\(error)".contains(digest.hex))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        expectNamesTheChunk { try test.reader.materialize(manifest, into: try MemFD.create(name: "target", size: 0)) }
        if damage != .truncatedPack {
            let path = test.directory.path("damaged.out")
            expectNamesTheChunk { try test.reader.materialize(result.manifest, toPath: path) }
            #expect(!FileManager.default.fileExists(atPath: path), "a failed export left a file")
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: test.directory.url.path).allSatisfy { !$0.contains("amber-partial") })
        }
        for (index, _) in stored where index != victim.index {
            #expect(try test.reader.chunk(manifest.digests[index]).count == manifest.length(ofChunk: index))
        }
    }
}
