import AmberModel
import AmberStore

/// A pack file, read as `amber store rebuild-index` and `verify` read one: `scanPack` walks its records,
/// `checkDeltas` rebuilds every delta record from its base, and every record the scan calls sound is
/// read back through `ChunkReader`, which re-hashes it.
///
/// Before the scan the target reseals each record header's FNV checksum (as a writer would), so the
/// fuzzer reaches the lengths, codecs and payloads behind it instead of stopping at the checksum. The
/// payload's SHA-256 is left alone: seeds made by Amber carry real digests, which mutations keep.
enum PackFuzzTarget {
    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        var pack = Array(bytes)
        resealRecordHeaders(&pack)
        try FuzzScratch.writePack(pack)
        let store = FuzzScratch.store
        let scan: PackScan
        do {
            scan = try ChunkReader(store: store, index: InMemoryChunkIndex()).scanPack(FuzzScratch.packName)
        } catch {
            throw BrokenInvariant(description: "scanPack threw instead of reporting what it found: \(error)")
        }
        try requireContiguous(scan)

        let index = InMemoryChunkIndex()
        index.add(scan.records)
        let reader = ChunkReader(store: store, index: index)
        let badDeltas = Set(reader.checkDeltas(scan.records).map(\.location))
        for record in scan.records where !badDeltas.contains(record.location) {
            guard try index.locations(of: [record.digest])[record.digest] == record.location else { continue }
            let chunk: [UInt8]
            do {
                chunk = try reader.chunk(record.digest)
            } catch {
                throw BrokenInvariant(
                    description: "record at offset \(record.location.offset) passed the scan but does not read back: \(error)")
            }
            try require(
                chunk.count == record.location.rawLength,
                "record at offset \(record.location.offset) read back \(chunk.count) bytes, its header says \(record.location.rawLength)")
            try require(
                chunk.withUnsafeBytes { ChunkDigest.of($0) } == record.digest,
                "record at offset \(record.location.offset) read back bytes that are not its digest")
        }
    }

    /// Records (sound and damaged) tile the pack from its header to `validLength`, which is within the file.
    private static func requireContiguous(_ scan: PackScan) throws {
        try require(scan.validLength <= scan.fileLength, "valid length \(scan.validLength) past the file's \(scan.fileLength) bytes")
        var end = UInt64(PackFormat.fileHeaderSize)
        for record in (scan.records + scan.damaged).sorted(by: { $0.location.offset < $1.location.offset }) {
            try require(record.location.offset == end, "record at offset \(record.location.offset), the previous one ended at \(end)")
            try require(
                PackFormat.lengthsArePossible(
                    codec: record.location.codec, rawLength: record.location.rawLength,
                    storedLength: record.location.storedLength),
                "record at offset \(record.location.offset) has impossible lengths")
            end += UInt64(record.location.recordLength)
        }
        if !scan.records.isEmpty || !scan.damaged.isEmpty {
            try require(end == scan.validLength, "records end at \(end), the scan says \(scan.validLength)")
        }
    }

    /// Rewrites the checksum of each record header along the chain a scan follows.
    static func resealRecordHeaders(_ pack: inout [UInt8]) {
        var offset = PackFormat.fileHeaderSize
        pack.withUnsafeMutableBytes { raw in
            while offset + PackFormat.recordHeaderSize <= raw.count {
                let header = raw.baseAddress! + offset
                guard UInt32(littleEndian: header.loadUnaligned(as: UInt32.self)) == PackFormat.recordMagic else { return }
                let check = PackRecordHeader.checksum(UnsafeRawBufferPointer(start: header, count: 48))
                header.storeBytes(of: check.littleEndian, toByteOffset: 48, as: UInt64.self)
                let stored = Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
                offset += PackFormat.recordHeaderSize + stored
            }
        }
    }
}
