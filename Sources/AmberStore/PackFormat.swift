import AmberModel

/// The on-disk layout of pack files. A pack is a 16-byte file header followed by records; each record is
/// self-describing so the catalog can be rebuilt from the packs alone:
///
///     offset size  field
///          0    4  magic "AMR1"
///          4    1  codec (0 raw, 1 lz4, 2 delta: see `DeltaRecord`), then 3 zero bytes
///          8    4  raw (uncompressed) length, little endian
///         12    4  stored length (payload bytes that follow the header)
///         16   32  SHA-256 of the raw bytes
///         48    8  FNV-1a-64 of bytes 0..<48: tells a real header from torn or random bytes
///         56    …  payload
///
/// The payload needs no checksum of its own: decoding it and re-hashing must reproduce the digest. In an
/// encrypted store the digest is keyed (`ChunkNamer`) and the payload sealed (`PayloadSealer`, bytes 0..<48
/// of the header as additional data); the header itself stays in the clear.
public enum PackFormat {
    /// A pack's name: 16 lowercase hex digits (`StoreWriter` draws them at random). A name read from the
    /// catalog becomes a path under packs/: anything else (a `/`, `..`) is refused before it is used.
    public static func isValidName(_ name: String) -> Bool {
        name.utf8.count == 16 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    public static let fileMagic: [UInt8] = Array("AMBERPK1".utf8)
    public static let fileHeaderSize = 16
    public static let recordMagic: UInt32 = 0x3152_4D41  // "AMR1" read little endian
    public static let recordHeaderSize = ChunkLocation.recordHeaderSize
    /// The header bytes a sealed payload is bound to (everything but the FNV checksum): magic, codec, both
    /// lengths and the digest.
    public static let sealedHeaderBytes = 48
    /// Chunks (and manifest roots) larger than this are refused; it bounds every buffer a reader allocates.
    public static let maxRecordPayload = 16 << 20

    static func fileHeader() -> [UInt8] {
        var header = fileMagic
        header += [1, 0, 0, 0, 0, 0, 0, 0]  // format version 1, reserved
        return header
    }

    /// Whether a record of `codec` can have these lengths: both within 1...`maxRecordPayload`, and a raw
    /// record's payload is the chunk itself. Record headers and the catalog's chunk rows are both checked
    /// with it, since readers size their buffers from these numbers. In an encrypted store every payload is
    /// sealed, `sealOverhead` (28) bytes longer than the encoded chunk, and the bounds move up by as much.
    public static func lengthsArePossible(codec: ChunkCodec, rawLength: Int, storedLength: Int, sealOverhead: Int = 0) -> Bool {
        (1...maxRecordPayload).contains(rawLength) && (1...maxRecordPayload).contains(storedLength - sealOverhead)
            && (codec != .raw || rawLength + sealOverhead == storedLength)
    }

    /// Whether the lengths are possible in a plain or in an encrypted store: what the catalog's rows are held
    /// to before their numbers size a buffer (the reader then checks them against its own store exactly).
    public static func lengthsArePossibleInAnyStore(codec: ChunkCodec, rawLength: Int, storedLength: Int) -> Bool {
        lengthsArePossible(codec: codec, rawLength: rawLength, storedLength: storedLength)
            || lengthsArePossible(codec: codec, rawLength: rawLength, storedLength: storedLength, sealOverhead: PayloadSealer.overhead)
    }

    static func isFileHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= fileHeaderSize && Array(bytes[0..<8]) == fileMagic && bytes[8] == 1
    }
}

/// One decoded record header.
public struct PackRecordHeader: Equatable, Sendable {
    public var codec: ChunkCodec
    public var rawLength: Int
    public var storedLength: Int
    public var digest: ChunkDigest

    public var recordLength: Int { PackFormat.recordHeaderSize + storedLength }

    public func encode(into destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: PackFormat.recordMagic.littleEndian, toByteOffset: 0, as: UInt32.self)
        destination.storeBytes(of: UInt32(codec.rawValue).littleEndian, toByteOffset: 4, as: UInt32.self)
        destination.storeBytes(of: UInt32(rawLength).littleEndian, toByteOffset: 8, as: UInt32.self)
        destination.storeBytes(of: UInt32(storedLength).littleEndian, toByteOffset: 12, as: UInt32.self)
        digest.write(to: destination + 16)
        let check = Self.checksum(UnsafeRawBufferPointer(start: destination, count: 48))
        destination.storeBytes(of: check.littleEndian, toByteOffset: 48, as: UInt64.self)
    }

    /// Decodes a header, or returns why these bytes are not one. `sealOverhead` is the store's (28 when its
    /// payloads are sealed, else 0).
    public static func decode(_ bytes: UnsafeRawBufferPointer, sealOverhead: Int = 0) -> Result<PackRecordHeader, PackRecordDefect> {
        guard bytes.count >= PackFormat.recordHeaderSize else { return .failure(.truncated) }
        guard UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == PackFormat.recordMagic else {
            return .failure(.badMagic)
        }
        let stored = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 48, as: UInt64.self))
        guard stored == checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<48])) else { return .failure(.badChecksum) }
        let codecWord = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard codecWord <= 0xFF, let codec = ChunkCodec(rawValue: UInt8(codecWord)) else { return .failure(.unknownCodec) }
        let raw = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        let storedLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        guard PackFormat.lengthsArePossible(codec: codec, rawLength: raw, storedLength: storedLength, sealOverhead: sealOverhead) else {
            return .failure(.badLengths)
        }
        let digest = ChunkDigest(bytes: UnsafeRawBufferPointer(rebasing: bytes[16..<48]))!
        return .success(PackRecordHeader(codec: codec, rawLength: raw, storedLength: storedLength, digest: digest))
    }

    /// FNV-1a, 64 bit: cheap, and enough to tell a header from garbage (the payload is covered by the digest).
    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

public enum PackRecordDefect: Error, CustomStringConvertible, Equatable {
    case truncated, badMagic, badChecksum, unknownCodec, badLengths

    public var description: String {
        switch self {
        case .truncated: return "record header cut short"
        case .badMagic: return "no record magic"
        case .badChecksum: return "record header checksum mismatch"
        case .unknownCodec: return "unknown codec"
        case .badLengths: return "impossible record lengths"
        }
    }
}
