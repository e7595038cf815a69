import AmberStore

/// A record file (`store/records/{vms,images,snapshots}/KEY`) as `recover`, gc and verify read it: the envelope
/// (header line, length, SHA-256) and the JSON body, whose values are bounded before the catalog sees them. The
/// input's first byte picks the record type; the rest is the file, named `fuzz` (a VM or image) or
/// `0123456789abcdef` (a snapshot). Plain stores only: a sealed body must first open under the store's key,
/// which random bytes cannot.
enum RecordFuzzTarget {
    static let snapshotKey = "0123456789abcdef"

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        guard let selector = bytes.first else { return }
        let file = Array(bytes.dropFirst())
        switch selector % 3 {
        case 0: try check(file, as: VMDescription.self, key: "fuzz")
        case 1: try check(file, as: ImageDescription.self, key: "fuzz")
        default: try check(file, as: SnapshotDescription.self, key: snapshotKey)
        }
    }

    private static func check<D: RecordDescription>(_ file: [UInt8], as type: D.Type, key: String) throws {
        let record: StoredRecord<D>
        switch RecordDirectory.parse(file, as: type, key: key, sealer: nil) {
        case .success(let parsed): record = parsed
        case .failure(let defect):
            try requireOneLine(defect, from: "the record parser")
            return
        }
        try require(record.description.problem() == nil, "record accepted with a problem: \(record.description.problem() ?? "")")
        try require(record.description.key == key, "record of \(record.description.key) accepted under the name \(key)")
        try require(file.count <= RecordEnvelope.maxFileSize, "a record of \(file.count) bytes was accepted")
        let again = RecordDirectory.parse(try RecordDirectory.file(record, sealer: nil), as: type, key: key, sealer: nil)
        guard case .success(let reparsed) = again else {
            throw BrokenInvariant(description: "an accepted record does not re-encode: \(again)")
        }
        try require(reparsed == record, "an accepted record re-encodes to another one")
    }
}
