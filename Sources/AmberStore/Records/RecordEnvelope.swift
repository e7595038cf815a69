import AmberModel
import Foundation

/// The bytes of one record file: a one-line header, then a JSON body.
///
///     amber-record <format> <type> <body length> <SHA-256 of the body, hex>\n
///     <body: JSON, exactly <body length> bytes>
///
/// The header says what the file is and lets a reader reject a torn, truncated or altered file before it
/// decodes anything; the body is JSON so that a person (or `jq`) can read what the store says without Amber.
/// Every number in the header is bounded before it is used: the file as a whole is at most `maxFileSize` bytes.
///
/// In an encrypted store the body is sealed (format 2): nonce, AES-256-GCM ciphertext of the JSON, tag, with
/// the record's type as additional data; the header's length and SHA-256 are those of the sealed bytes, so a
/// torn file is told from a wrong key. The file's name (a VM, image or snapshot id) stays visible.
public enum RecordEnvelope {
    public static let magic = "amber-record"
    /// Version 1: the first record format (bodies described in `StoredRecord`).
    public static let formatVersion = 1
    /// Version 2: the body sealed under the store's record key (encrypted stores only).
    public static let sealedFormatVersion = 2
    /// A VM's configuration is the largest thing a record holds (a few KiB); 1 MiB leaves room and still bounds
    /// what a reader allocates for a file it does not trust.
    public static let maxFileSize = 1 << 20
    static let maxHeaderLength = 160

    public static func encode(type: RecordType, body: [UInt8], sealer: PayloadSealer? = nil) -> [UInt8] {
        let stored = sealer.map { $0.seal(body, authenticating: Array(type.rawValue.utf8)) } ?? body
        let format = sealer == nil ? formatVersion : sealedFormatVersion
        let digest = stored.withUnsafeBytes { ChunkDigest.of($0) }.hex
        return Array("\(magic) \(format) \(type.rawValue) \(stored.count) \(digest)\n".utf8) + stored
    }

    /// The body of a record file of `type`, or why these bytes are not one.
    /// A plain store's directory (no `sealer`) refuses sealed files and an encrypted store's refuses plain ones,
    /// so a record cannot be slipped into an encrypted store unsealed.
    public static func decode(_ bytes: [UInt8], type: RecordType, sealer: PayloadSealer? = nil) -> Result<ArraySlice<UInt8>, RecordDefect> {
        guard bytes.count <= maxFileSize else { return .failure(.tooLarge(bytes.count)) }
        guard let newline = bytes.prefix(maxHeaderLength).firstIndex(of: UInt8(ascii: "\n")) else {
            return .failure(bytes.isEmpty ? .empty : .noHeader)
        }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == magic else { return .failure(.noHeader) }
        guard let format = Int(fields[1]), format >= 1 else { return .failure(.noHeader) }
        guard format <= sealedFormatVersion else { return .failure(.newerFormat(format)) }
        guard (format == sealedFormatVersion) == (sealer != nil) else {
            return .failure(
                .badBody(sealer == nil ? "a sealed record in a store that is not encrypted" : "an unsealed record in an encrypted store"))
        }
        guard fields[2] == type.rawValue else { return .failure(.wrongType(String(fields[2].prefix(32)))) }
        let body = bytes[(newline + 1)...]
        guard let length = Int(fields[3]), length >= 0, length <= maxFileSize else { return .failure(.noHeader) }
        guard length == body.count else { return .failure(.wrongLength(expected: length, found: body.count)) }
        guard let stated = ChunkDigest(hex: String(fields[4])), stated == body.withUnsafeBytes({ ChunkDigest.of($0) }) else {
            return .failure(.checksumMismatch)
        }
        guard let sealer else { return .success(body) }
        guard let opened = sealer.open(Array(body), authenticating: Array(type.rawValue.utf8)) else {
            return .failure(.badBody("sealed body does not open with the store's key"))
        }
        return .success(opened[...])
    }
}

/// Why the bytes of a record file are not a record this amber can use.
public enum RecordDefect: Error, Equatable, CustomStringConvertible {
    case empty
    case tooLarge(Int)
    case noHeader
    case newerFormat(Int)
    case wrongType(String)
    case wrongLength(expected: Int, found: Int)
    case checksumMismatch
    case badBody(String)

    public var description: String {
        switch self {
        case .empty: return "empty file"
        case .tooLarge(let size): return "\(size) bytes, more than a record can hold (\(RecordEnvelope.maxFileSize))"
        case .noHeader: return "no amber-record header"
        case .newerFormat(let format): return "record format \(format) is newer than this amber understands; upgrade amber"
        case .wrongType(let type): return "holds a \(type) record, not the kind its directory holds"
        case .wrongLength(let expected, let found): return "body is \(found) bytes, its header says \(expected) (truncated?)"
        case .checksumMismatch: return "body does not match its SHA-256"
        case .badBody(let reason): return reason
        }
    }
}
