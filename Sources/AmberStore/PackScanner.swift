import AmberModel
import AmberSystem
import Glibc

/// What reading a pack from start to end found.
public struct PackScan: Sendable {
    public var name: String
    /// Records whose header is sound and whose payload decodes to their digest, in file order. A delta
    /// record's base may be in another pack (or in none): here its payload is only checked to decode;
    /// `checkDeltas` rebuilds and re-hashes deltas once every pack has been scanned.
    public var records: [StoredChunk]
    /// Records with a sound header whose payload does not match its digest (skipped).
    public var damaged: [StoredChunk]
    /// Where the last sound record ends: everything after is a torn or foreign tail.
    public var validLength: UInt64
    public var fileLength: UInt64
    /// Why the scan stopped before the end of the file, if it did.
    public var stopReason: String?
}

extension ChunkReader {
    /// Reads every record of a pack, checking each payload against its digest. Rebuilding the catalog
    /// uses this; it trusts nothing but the bytes.
    public func scanPack(_ name: String) throws -> PackScan {
        let file = try pack(name)
        let length = try file.size()
        var scan = PackScan(name: name, records: [], damaged: [], validLength: 0, fileLength: length, stopReason: nil)
        var header = [UInt8](repeating: 0, count: PackFormat.recordHeaderSize)
        let fileHeaderOK = try header.withUnsafeMutableBytes { raw -> Bool in
            let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<PackFormat.fileHeaderSize]), at: 0)
            return count == PackFormat.fileHeaderSize && PackFormat.isFileHeader(UnsafeRawBufferPointer(raw))
        }
        guard fileHeaderOK else {
            if let version = newerFileHeaderVersion(header) {
                throw StoreError.newerPack(name: name, what: "a file header of version \(version)")
            }
            scan.stopReason = "no pack file header"
            return scan
        }
        var offset = UInt64(PackFormat.fileHeaderSize)
        scan.validLength = offset
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: PackFormat.recordHeaderSize + PackFormat.maxRecordPayload + store.sealOverhead,
            alignment: 16)
        let decoded = UnsafeMutableRawBufferPointer.allocate(byteCount: PackFormat.maxRecordPayload, alignment: 16)
        defer { scratch.deallocate(); decoded.deallocate() }
        while offset < length {
            let headerWindow = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<PackFormat.recordHeaderSize])
            guard try file.read(into: headerWindow, at: offset) == PackFormat.recordHeaderSize else {
                scan.stopReason = "torn record header at offset \(offset)"
                break
            }
            let decodedHeader = PackRecordHeader.decode(UnsafeRawBufferPointer(headerWindow), sealOverhead: store.sealOverhead)
            if case .failure(.unknownCodec) = decodedHeader {
                // The header's checksum holds: a real record, of a codec only a newer Amber knows.
                throw StoreError.newerPack(name: name, what: "a record of an unknown codec at offset \(offset)")
            }
            guard case .success(let record) = decodedHeader else {
                scan.stopReason = "no valid record at offset \(offset)"
                break
            }
            guard offset + UInt64(record.recordLength) <= length else {
                scan.stopReason = "record at offset \(offset) runs past the end of the file"
                break
            }
            var location = ChunkLocation(
                pack: name, offset: offset, storedLength: record.storedLength,
                rawLength: record.rawLength, codec: record.codec)
            do {
                if record.codec == .delta {
                    location.base = try deltaBase(record.digest, at: location)
                } else {
                    try read(
                        record.digest, at: location, into: UnsafeMutableRawBufferPointer(rebasing: decoded[0..<record.rawLength]),
                        scratch: scratch)
                }
                scan.records.append(StoredChunk(digest: record.digest, location: location))
            } catch is StoreError {
                scan.damaged.append(StoredChunk(digest: record.digest, location: location))
            }
            offset += UInt64(record.recordLength)
            scan.validLength = offset
        }
        return scan
    }
}

extension ChunkReader {
    /// Of `scanned` (every sound record of every pack), the delta records that do not rebuild into
    /// their digest, with why: their base is missing or damaged, or their pages are wrong. Reads
    /// through an index of `scanned` alone, not this reader's, which is what is being rebuilt.
    public func checkDeltas(_ scanned: [StoredChunk], progress: ProgressReport? = nil) -> [ChunkDefect] {
        let scannedIndex = InMemoryChunkIndex()
        scannedIndex.add(scanned)
        let deltas = scanned.filter { $0.location.codec == .delta }
        return ChunkReader(store: store, index: scannedIndex).verify(deltas, progress: progress)
    }
}

/// The version of a pack file header that is Amber's but newer than this Amber's (nil for anything else).
private func newerFileHeaderVersion(_ header: [UInt8]) -> UInt8? {
    guard header.count >= PackFormat.fileHeaderSize, Array(header[0..<8]) == PackFormat.fileMagic, header[8] > 1 else { return nil }
    return header[8]
}
