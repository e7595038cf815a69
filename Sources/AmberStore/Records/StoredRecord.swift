import Foundation

/// One version of a record: a description, and whether the object has been removed.
///
/// A record file is replaced whole (never edited in place) each time its object changes: created,
/// protected or unprotected, removed. A removal leaves a tombstone (`removed` set, the last description
/// kept) rather than no file, so a catalog restored from an older copy learns that the object is gone.
/// `revision` counts the versions of one object's record: the file always holds the newest, and
/// the number tells a person reading it how many came before.
public struct StoredRecord<Description: RecordDescription>: Equatable, Sendable {
    public var revision: UInt64
    /// When the object was removed (seconds since 1970); nil while it exists.
    public var removed: Double?
    public var description: Description

    public init(revision: UInt64 = 1, removed: Double? = nil, description: Description) {
        self.revision = revision
        self.removed = removed
        self.description = description
    }

    public var isRemoved: Bool { removed != nil }

    private struct Body: Codable {
        var revision: UInt64
        var removed: Double?
        var object: Description
    }

    func encodedBody() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(Body(revision: revision, removed: removed, object: description)))
    }

    /// Decodes and checks a body that `RecordEnvelope` found intact; `key` is the file's name, which the
    /// description must agree with.
    static func decode(body: ArraySlice<UInt8>, key: String) -> Result<StoredRecord, RecordDefect> {
        let decoded: Body
        do {
            decoded = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch {
            return .failure(.badBody("body is not a \(Description.recordType.rawValue) record (\(Self.shortReason(error)))"))
        }
        if let problem = decoded.object.problem() { return .failure(.badBody(problem)) }
        guard decoded.object.key == key else {
            return .failure(.badBody("describes \"\(String(decoded.object.key.prefix(40)))\", not the object its file name says"))
        }
        if let removed = decoded.removed, let problem = RecordBounds.time(removed, "removed") { return .failure(.badBody(problem)) }
        guard decoded.revision >= 1, decoded.revision < UInt64(1) << 53 else {
            return .failure(.badBody("revision \(decoded.revision) is out of range"))
        }
        return .success(StoredRecord(revision: decoded.revision, removed: decoded.removed, description: decoded.object))
    }

    private static func shortReason(_ error: Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case .keyNotFound(let key, _): return "no \(key.stringValue)"
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                return path.isEmpty ? String(context.debugDescription.prefix(100)) : "bad \(path)"
            @unknown default: return "undecodable"
            }
        }
        return "undecodable"
    }
}

/// A record file that could not be read back, and why.
public struct DamagedRecord: Sendable, Equatable, Codable {
    public var type: String
    public var key: String
    public var path: String
    public var reason: String

    /// "record snapshots/0123 (…/store/records/snapshots/0123): reason"
    public var description: String { "record \(path): \(reason)" }
}
