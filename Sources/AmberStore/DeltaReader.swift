import AmberModel
import Foundation

extension ChunkReader {
    /// Rebuilds a delta record: its base first (recursively, into `destination`), then its changed
    /// pages over it. The record and its decoded pages get buffers of their own because the base's
    /// records may be larger than the caller's scratch. A base that cannot be read fails this chunk
    /// with an error naming both.
    func decodeDelta(
        _ digest: ChunkDigest, at location: ChunkLocation, into destination: UnsafeMutableRawBufferPointer,
        timings: inout MaterializeTimings, level: Int, bases: [ChunkDigest: ChunkLocation]
    ) throws -> Int {
        guard level < DeltaRecord.maxChainDepth else {
            throw corrupt(digest, location, "delta chain longer than \(DeltaRecord.maxChainDepth) records")
        }
        var clock = monotonicNanos()
        let record = UnsafeMutableRawBufferPointer.allocate(byteCount: location.recordLength, alignment: 16)
        defer { record.deallocate() }
        let parsed = try parseDelta(digest, at: location, record: record)
        timings.readNanos += lap(&clock)
        let pages = UnsafeMutableRawBufferPointer.allocate(byteCount: parsed.changedBytes, alignment: 16)
        defer { pages.deallocate() }
        guard DeltaRecord.decodePages(parsed, into: pages) else { throw corrupt(digest, location, "delta page data does not decode") }
        timings.decodeNanos += lap(&clock)
        let depth: Int
        do {
            let baseLocation = try bases[parsed.base] ?? self.location(of: parsed.base)
            let baseScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: baseLocation.recordLength, alignment: 16)
            defer { baseScratch.deallocate() }
            depth = try decode(
                parsed.base, at: baseLocation, into: destination, scratch: baseScratch, timings: &timings,
                level: level + 1, bases: bases)
        } catch let error as StoreError {
            throw corrupt(digest, location, "its delta base \(parsed.base) \(Self.problem(error))")
        }
        clock = monotonicNanos()
        DeltaRecord.apply(parsed, pages: UnsafeRawBufferPointer(pages), to: destination)
        timings.decodeNanos += lap(&clock)
        return depth + 1
    }

    /// `found` plus the locations of every delta base their chains reach, looked up one chain level
    /// at a time for all of them together (the index's `base` of each location names the next level),
    /// so rebuilding a thousand chains costs a few batched lookups instead of one per record. A base
    /// the index does not have is left out: reading it then fails naming it.
    public func withDeltaBaseLocations(_ found: [ChunkDigest: ChunkLocation]) throws -> [ChunkDigest: ChunkLocation] {
        var all = found
        var wanted = Set(found.values.compactMap(\.base)).filter { all[$0] == nil }
        for _ in 0..<DeltaRecord.maxChainDepth where !wanted.isEmpty {
            let level = try index.locations(of: Array(wanted))
            all.merge(level) { first, _ in first }
            wanted = Set(level.values.compactMap(\.base)).filter { all[$0] == nil }
        }
        return all
    }

    /// Called when a rebuilt delta chunk does not hash to its digest: reads its base on its own (checked,
    /// so recursively down the chain) and throws naming the base if that is what is bad.
    func diagnoseBase(of digest: ChunkDigest, at location: ChunkLocation) throws {
        let record = UnsafeMutableRawBufferPointer.allocate(byteCount: location.recordLength, alignment: 16)
        defer { record.deallocate() }
        let base = try parseDelta(digest, at: location, record: record).base
        do {
            _ = try chunk(base)
        } catch let error as StoreError {
            throw corrupt(digest, location, "its delta base \(base) \(Self.problem(error))")
        }
    }

    /// The base a delta record names, after checking that its payload is well formed and its pages
    /// decode (without rebuilding the chunk: the base may not be indexed yet).
    func deltaBase(_ digest: ChunkDigest, at location: ChunkLocation) throws -> ChunkDigest {
        let record = UnsafeMutableRawBufferPointer.allocate(byteCount: location.recordLength, alignment: 16)
        defer { record.deallocate() }
        let parsed = try parseDelta(digest, at: location, record: record)
        let pages = UnsafeMutableRawBufferPointer.allocate(byteCount: parsed.changedBytes, alignment: 16)
        defer { pages.deallocate() }
        guard DeltaRecord.decodePages(parsed, into: pages) else { throw corrupt(digest, location, "delta page data does not decode") }
        return parsed.base
    }

    /// Reads a delta record whole into `record` (exactly its length) and bound-checks its payload.
    private func parseDelta(
        _ digest: ChunkDigest, at location: ChunkLocation,
        record: UnsafeMutableRawBufferPointer
    ) throws -> DeltaRecord.Parsed {
        let length = try readRecord(digest, at: location, into: record)
        do {
            return try DeltaRecord.parse(
                UnsafeRawBufferPointer(rebasing: record[PackFormat.recordHeaderSize..<(PackFormat.recordHeaderSize + length)]),
                rawLength: location.rawLength)
        } catch let defect as DeltaRecordDefect {
            throw corrupt(digest, location, defect.description)
        }
    }

    /// What is wrong with a base, as the end of "its delta base X …".
    static func problem(_ error: StoreError) -> String {
        switch error {
        case .missingChunk: return "is missing from the store"
        case .corruptChunk(_, _, _, let reason): return "is damaged (\(reason))"
        case .missingPack(let name): return "is in pack \(name), which is missing"
        default: return "cannot be read (\(error))"
        }
    }
}
