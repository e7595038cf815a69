import AmberStore
import AmberTestSupport
import Foundation
import Testing

/// The store's record files: written whole and durably, read back only when every byte checks out, and a
/// damaged one is a one-line error naming it, never a trap.
@Suite("Record files")
struct RecordFileTests {
    private let digest = String(repeating: "ab", count: 32)

    private func snapshot(_ id: String = "0123456789abcdef", protected: Bool = false) -> SnapshotDescription {
        SnapshotDescription(
            id: id, vm: "web-1", parent: "00000000000000aa", created: 1_765_000_000.123456, label: "before upgrade",
            kind: "full", memoryManifest: digest, diskManifest: nil, stateManifest: digest, logicalBytes: 1 << 30,
            storedBytes: 12345, pauseMicroseconds: 800, protected: protected, policy: "nightly")
    }

    @Test func aRecordReadsBackExactlyAndANewVersionReplacesIt() throws {
        let store = try TemporaryDirectory()
        let records = RecordDirectory(storeDirectory: store.url)
        try records.save(StoredRecord(description: snapshot()))
        #expect(try records.load(SnapshotDescription.self, key: "0123456789abcdef") == StoredRecord(description: snapshot()))
        try records.save(StoredRecord(revision: 2, description: snapshot(protected: true)))
        try records.save(StoredRecord(revision: 3, removed: 1_765_000_100, description: snapshot(protected: true)))
        let all = try records.loadAll(SnapshotDescription.self)
        #expect(all.damaged.isEmpty && all.records.count == 1)
        #expect(all.records.first?.revision == 3 && all.records.first?.isRemoved == true)
        #expect(all.records.first?.description.created == 1_765_000_000.123456)
        // Nothing but the record is left behind (temporary files are renamed into place).
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path("records/.tmp")).isEmpty)
        #expect(try records.keys(.snapshot) == ["0123456789abcdef"])
    }

    @Test func aTruncatedRecordIsSkippedByLoadAllAndNamedByLoad() throws {
        let store = try TemporaryDirectory()
        let records = RecordDirectory(storeDirectory: store.url)
        try records.save([StoredRecord(description: snapshot("aaaa")), StoredRecord(description: snapshot("bbbb"))])
        let path = records.path(.snapshot, key: "bbbb")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: path))
        let all = try records.loadAll(SnapshotDescription.self)
        #expect(all.records.map(\.description.id) == ["aaaa"])
        #expect(all.damaged.map(\.path) == ["snapshots/bbbb"])
        #expect(all.damaged.first?.reason.contains("truncated") == true)
        do {
            _ = try records.load(SnapshotDescription.self, key: "bbbb")
            Issue.record("a truncated record loaded")
        } catch let error as StoreError {
            #expect(!"\(error)".contains("\n") && "\(error)".contains("snapshots/bbbb"))
        }
    }

    /// Crafted bodies with a correct checksum: the values themselves are bounded before use.
    @Test(arguments: [
        ("\"logicalBytes\":1073741824", "\"logicalBytes\":9223372036854775807", "logicalBytes"),
        ("\"created\":1765000000.123456", "\"created\":1e300", "created"),
        ("\"vm\":\"web-1\"", "\"vm\":\"..\\/..\\/etc\"", "VM name"),
        ("\"revision\":1", "\"revision\":18446744073709551615", "revision"),
        ("\"memoryManifest\":\"abab", "\"memoryManifest\":\"zzab", "manifest"),
        ("\"pauseMicroseconds\":800", "\"pauseMicroseconds\":1e40", "JSON"),  // an Int64 cannot hold it: refused while parsing
    ])
    func craftedValuesAreRefusedWithAReason(field: (String, String, String)) throws {
        let store = try TemporaryDirectory()
        let records = RecordDirectory(storeDirectory: store.url)
        try records.save(StoredRecord(description: snapshot()))
        let path = records.path(.snapshot, key: "0123456789abcdef")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let body = String(text[text.index(after: text.firstIndex(of: "\n")!)...])
        #expect(body.contains(field.0))
        let crafted = Array(body.replacingOccurrences(of: field.0, with: field.1).utf8)
        try Data(RecordEnvelope.encode(type: .snapshot, body: crafted)).write(to: URL(fileURLWithPath: path))
        let all = try records.loadAll(SnapshotDescription.self)
        #expect(all.records.isEmpty)
        let reason = try #require(all.damaged.first?.reason)
        #expect(reason.contains(field.2), "\(reason)")
        #expect(!reason.contains("\n"))
    }

    @Test func headersThatLieAreRefused() throws {
        let body = Array("{}".utf8)
        let good = RecordEnvelope.encode(type: .image, body: body)
        #expect(throws: Never.self) { try RecordEnvelope.decode(good, type: .image).get() }
        #expect(RecordEnvelope.decode(good, type: .snapshot) == .failure(.wrongType("image")))
        var flipped = good
        flipped[flipped.count - 1] ^= 1
        #expect(RecordEnvelope.decode(flipped, type: .image) == .failure(.checksumMismatch))
        let newer = Array("amber-record 99 image 2 \(String(repeating: "0", count: 64))\n{}".utf8)
        #expect(RecordEnvelope.decode(newer, type: .image) == .failure(.newerFormat(99)))
        let huge = Array("amber-record 1 image 99999999999999999999999 x\n{}".utf8)
        #expect(RecordEnvelope.decode(huge, type: .image) == .failure(.noHeader))
        #expect(RecordEnvelope.decode([], type: .image) == .failure(.empty))
        #expect(RecordEnvelope.decode([UInt8](repeating: 0x41, count: 500), type: .image) == .failure(.noHeader))
    }

    @Test func aRecordNamingAnotherObjectThanItsFileIsRefused() throws {
        let store = try TemporaryDirectory()
        let records = RecordDirectory(storeDirectory: store.url)
        try records.save(StoredRecord(description: snapshot("aaaa")))
        try FileManager.default.copyItem(atPath: records.path(.snapshot, key: "aaaa"), toPath: records.path(.snapshot, key: "cccc"))
        let all = try records.loadAll(SnapshotDescription.self)
        #expect(all.records.map(\.description.id) == ["aaaa"])
        #expect(all.damaged.first?.key == "cccc")
    }
}
