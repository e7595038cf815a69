import AmberModel
import AmberStore

/// A delta record's payload (`DeltaRecord`), parsed, decoded and laid over a base as a restore does,
/// without the pack around it (the pack target covers that path, much more slowly). The first three
/// bytes of the input are the chunk's raw length less one (little endian, so at most 16 MiB, the
/// largest record); the rest is the payload.
enum DeltaFuzzTarget {
    static let baseFill: UInt8 = 0xA5

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 3 else { return }
        let rawLength = 1 + (Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[3...])
        let parsed: DeltaRecord.Parsed
        do {
            parsed = try DeltaRecord.parse(payload, rawLength: rawLength)
        } catch {
            try requireOneLine(error, from: "the delta parser")
            return
        }
        try requireBounded(parsed, rawLength: rawLength)

        let pages = UnsafeMutableRawBufferPointer.allocate(byteCount: parsed.changedBytes, alignment: 16)
        defer { pages.deallocate() }
        guard DeltaRecord.decodePages(parsed, into: pages) else { return }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: rawLength, alignment: 16)
        let base = UnsafeMutableRawBufferPointer.allocate(byteCount: rawLength, alignment: 16)
        defer { chunk.deallocate(); base.deallocate() }
        base.initializeMemory(as: UInt8.self, repeating: baseFill)
        chunk.copyMemory(from: UnsafeRawBufferPointer(base))
        DeltaRecord.apply(parsed, pages: UnsafeRawBufferPointer(pages), to: chunk)
        try requireOnlyChangedPagesDiffer(parsed, chunk: UnsafeRawBufferPointer(chunk), rawLength: rawLength)
        try requireReencodes(UnsafeRawBufferPointer(chunk), base: UnsafeRawBufferPointer(base), baseDigest: parsed.base)
    }

    /// Changed pages ascend, lie inside the chunk, and add up to `changedBytes`.
    private static func requireBounded(_ parsed: DeltaRecord.Parsed, rawLength: Int) throws {
        let pageCount = DeltaRecord.pageCount(rawLength)
        try require(zip(parsed.changedPages, parsed.changedPages.dropFirst()).allSatisfy { $0 < $1 }, "changed pages do not ascend")
        try require(
            parsed.changedPages.allSatisfy { (0..<pageCount).contains($0) }, "a changed page lies outside the \(pageCount)-page chunk")
        let bytes = parsed.changedPages.reduce(0) { $0 + DeltaRecord.pageRange($1, rawLength: rawLength).count }
        try require(bytes == parsed.changedBytes && bytes <= rawLength, "changed bytes \(parsed.changedBytes), the pages cover \(bytes)")
    }

    /// Every page the bitmap does not name still holds the base's bytes.
    private static func requireOnlyChangedPagesDiffer(_ parsed: DeltaRecord.Parsed, chunk: UnsafeRawBufferPointer, rawLength: Int) throws {
        let changed = Set(parsed.changedPages)
        for page in 0..<DeltaRecord.pageCount(rawLength) where !changed.contains(page) {
            let range = DeltaRecord.pageRange(page, rawLength: rawLength)
            try require(chunk[range].allSatisfy { $0 == baseFill }, "page \(page) changed but the bitmap does not name it")
        }
    }

    /// The rebuilt chunk, encoded again as a delta on the same base, rebuilds to the same bytes.
    private static func requireReencodes(_ chunk: UnsafeRawBufferPointer, base: UnsafeRawBufferPointer, baseDigest: ChunkDigest) throws {
        let rawLength = chunk.count
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: DeltaRecord.prefixSize(rawLength) + rawLength, alignment: 16)
        let gather = UnsafeMutableRawBufferPointer.allocate(byteCount: rawLength, alignment: 16)
        defer { payload.deallocate(); gather.deallocate() }
        guard
            let length = DeltaRecord.encode(
                chunk, base: base, baseDigest: baseDigest, pageLimit: DeltaRecord.pageCount(rawLength),
                gather: gather, into: payload)
        else {
            return  // no page differs from the base: nothing to encode
        }
        let again = try DeltaRecord.parse(UnsafeRawBufferPointer(rebasing: payload[0..<length]), rawLength: rawLength)
        let pages = UnsafeMutableRawBufferPointer.allocate(byteCount: again.changedBytes, alignment: 16)
        let rebuilt = UnsafeMutableRawBufferPointer.allocate(byteCount: rawLength, alignment: 16)
        defer { pages.deallocate(); rebuilt.deallocate() }
        try require(DeltaRecord.decodePages(again, into: pages), "a delta Amber encoded does not decode")
        rebuilt.copyMemory(from: base)
        DeltaRecord.apply(again, pages: UnsafeRawBufferPointer(pages), to: rebuilt)
        try require(rebuilt.elementsEqual(chunk), "a delta Amber encoded rebuilds other bytes")
    }
}
