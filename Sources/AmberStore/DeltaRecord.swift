import AmberModel
import Glibc

/// A chunk stored as the 4 KiB pages in which it differs from another stored chunk of the same length
/// (its base), usually the same chunk of the parent snapshot. Between two snapshots a guest rewrites a
/// few pages of a 64 KiB chunk; storing only those pages makes a history of snapshots cost about what
/// changed instead of one whole chunk per touched page. The record's digest stays the SHA-256 of the
/// full rebuilt chunk, so manifests, dedup and everything above the pack record are unchanged.
///
/// Payload of a record with codec 2 (`ChunkCodec.delta`):
///
///     offset size  field
///          0   32  base digest (a chunk that was already stored when this record was written)
///         32    1  codec of the page data (0 raw, 1 lz4), then 3 zero bytes
///         36    n  bitmap, bit i (byte i / 8, bit i % 8) set when page i changed; n = ceil(pages / 8)
///     36 + n    …  the changed pages, in page order, concatenated and then LZ4-compressed (or raw)
///
/// A reader rebuilds the base (recursively), lays the changed pages over it and checks the SHA-256 of
/// the result. Chains are bounded so a restore never decodes more than `maxChainDepth + 1` records
/// for one chunk: a writer stores a full chunk instead of a delta whose base is already that many
/// deltas deep, and a reader refuses a longer chain (a crafted pack cannot make it loop; a real one
/// cannot hold a cycle, since a base must be stored before a delta can name it).
package enum DeltaRecord {
    package static let pageSize = 4096
    /// Deltas in one chain at most. Measured in BENCHMARKS.md ("Delta chunks"): restoring a chunk at
    /// the cap costs nine LZ4 decodes and one SHA-256.
    package static let maxChainDepth = 8
    static let bitmapOffset = 36

    package static func pageCount(_ rawLength: Int) -> Int { (rawLength + pageSize - 1) / pageSize }
    package static func bitmapSize(_ rawLength: Int) -> Int { (pageCount(rawLength) + 7) / 8 }
    package static func prefixSize(_ rawLength: Int) -> Int { bitmapOffset + bitmapSize(rawLength) }

    /// The bytes page `page` covers in a chunk of `rawLength` bytes (the last page may be short).
    package static func pageRange(_ page: Int, rawLength: Int) -> Range<Int> {
        (page * pageSize)..<min(rawLength, (page + 1) * pageSize)
    }

    /// A payload that passed every bound check, pointing into the bytes it was parsed from.
    package struct Parsed {
        package var base: ChunkDigest
        package var pageCodec: ChunkCodec
        package var changedPages: [Int]
        /// Bytes the changed pages take once decoded.
        package var changedBytes: Int
        package var data: UnsafeRawBufferPointer
    }

    /// Parses a delta payload for a chunk of `rawLength` bytes. Packs are untrusted: every length and
    /// bit is checked against the chunk's size before anything is decoded.
    package static func parse(_ payload: UnsafeRawBufferPointer, rawLength: Int) throws -> Parsed {
        let prefix = prefixSize(rawLength)
        guard payload.count > prefix else { throw DeltaRecordDefect("delta record shorter than its header and bitmap") }
        guard let base = ChunkDigest(bytes: UnsafeRawBufferPointer(rebasing: payload[0..<32])), !base.isZero else {
            throw DeltaRecordDefect("delta record names no base")
        }
        guard let pageCodec = ChunkCodec(rawValue: payload[32]), pageCodec != .delta,
            payload[33] == 0, payload[34] == 0, payload[35] == 0
        else {
            throw DeltaRecordDefect("delta record has an unknown page codec")
        }
        let pages = pageCount(rawLength)
        var changed: [Int] = []
        var changedBytes = 0
        for byteIndex in 0..<bitmapSize(rawLength) {
            let bits = payload[bitmapOffset + byteIndex]
            guard bits != 0 else { continue }
            for bit in 0..<8 where bits & (1 << bit) != 0 {
                let page = byteIndex * 8 + bit
                guard page < pages else { throw DeltaRecordDefect("delta bitmap marks page \(page) of a \(pages)-page chunk") }
                changed.append(page)
                changedBytes += pageRange(page, rawLength: rawLength).count
            }
        }
        guard !changed.isEmpty else { throw DeltaRecordDefect("delta record changes no page") }
        let data = UnsafeRawBufferPointer(rebasing: payload[prefix...])
        guard pageCodec == .lz4 || data.count == changedBytes else {
            throw DeltaRecordDefect(
                "delta bitmap says \(changed.count) pages (\(changedBytes) bytes) but the record holds \(data.count) bytes")
        }
        return Parsed(base: base, pageCodec: pageCodec, changedPages: changed, changedBytes: changedBytes, data: data)
    }

    /// Decodes the changed pages into `pages` (exactly `parsed.changedBytes` bytes); false if they do not decode to that.
    package static func decodePages(_ parsed: Parsed, into pages: UnsafeMutableRawBufferPointer) -> Bool {
        guard pages.count == parsed.changedBytes else { return false }
        if parsed.pageCodec == .raw {
            pages.copyMemory(from: parsed.data)
            return true
        }
        return ChunkCodec.decompress(parsed.data, into: pages)
    }

    /// Lays the decoded changed pages over `chunk`, which holds the rebuilt base.
    package static func apply(_ parsed: Parsed, pages: UnsafeRawBufferPointer, to chunk: UnsafeMutableRawBufferPointer) {
        var offset = 0
        for page in parsed.changedPages {
            let range = pageRange(page, rawLength: chunk.count)
            UnsafeMutableRawBufferPointer(rebasing: chunk[range]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: pages[offset..<(offset + range.count)]))
            offset += range.count
        }
    }

    /// Encodes `chunk` as a delta on `base` (same length) into `payload`, gathering the changed pages
    /// in `gather` (at least `chunk.count` bytes). Returns the payload's length, or nil when no page
    /// or more than `pageLimit` pages differ. `payload` must hold `prefixSize + chunk.count` bytes.
    package static func encode(
        _ chunk: UnsafeRawBufferPointer, base: UnsafeRawBufferPointer, baseDigest: ChunkDigest, pageLimit: Int,
        gather: UnsafeMutableRawBufferPointer, into payload: UnsafeMutableRawBufferPointer
    ) -> Int? {
        precondition(chunk.count == base.count && gather.count >= chunk.count && payload.count >= prefixSize(chunk.count) + chunk.count)
        let prefix = prefixSize(chunk.count)
        UnsafeMutableRawBufferPointer(rebasing: payload[0..<prefix]).initializeMemory(as: UInt8.self, repeating: 0)
        var changed = 0
        var gathered = 0
        for page in 0..<pageCount(chunk.count) {
            let range = pageRange(page, rawLength: chunk.count)
            guard memcmp(chunk.baseAddress! + range.lowerBound, base.baseAddress! + range.lowerBound, range.count) != 0 else { continue }
            changed += 1
            guard changed <= pageLimit else { return nil }
            payload[bitmapOffset + page / 8] |= UInt8(1 << (page % 8))
            UnsafeMutableRawBufferPointer(rebasing: gather[gathered..<(gathered + range.count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[range]))
            gathered += range.count
        }
        guard changed > 0 else { return nil }
        baseDigest.write(to: payload.baseAddress!)
        let pages = UnsafeRawBufferPointer(rebasing: gather[0..<gathered])
        let (codec, compressed) = ChunkCodec.compress(pages, into: UnsafeMutableRawBufferPointer(rebasing: payload[prefix...]))
        payload[32] = codec.rawValue
        if codec == .raw {
            UnsafeMutableRawBufferPointer(rebasing: payload[prefix..<(prefix + gathered)]).copyMemory(from: pages)
            return prefix + gathered
        }
        return prefix + compressed
    }
}

/// Why a delta payload was refused.
package struct DeltaRecordDefect: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
