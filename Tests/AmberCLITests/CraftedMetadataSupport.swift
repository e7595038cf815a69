import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import Foundation
import Testing

/// What every command must do with crafted or damaged metadata (issue 11): exit with a failure code (1, or 74
/// for damage found, 65 for a refusal; docs/cli.md) rather than die of a signal (a trap, and with it a core) and
/// print one line naming `needles`.
func expectRefusal(
    _ result: CLIResult, _ command: String, mentioning needles: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(!result.killedBySignal, "\(command) was killed by signal \(result.status)", sourceLocation: sourceLocation)
    #expect([1, 65, 74].contains(result.status), "\(command) exited \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
    #expect(
        result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1,
        "\(command) should print one error line, printed: \(result.stderr)", sourceLocation: sourceLocation)
    for needle in needles {
        #expect(result.stderr.contains(needle), "\(command): \(result.stderr) should mention \(needle)", sourceLocation: sourceLocation)
    }
}

/// The names in `directory` (an export's partial file would show up here).
func files(in directory: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
}

/// A manifest root as `Manifest` encodes it, with whatever numbers a test wants in it.
func craftedManifestRoot(chunkSize: UInt32, length: UInt64, pieces: [ChunkDigest]) -> [UInt8] {
    var bytes = Array("AMBM".utf8)
    for word in [UInt32(1), chunkSize, 0] { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
    for word in [length, UInt64(pieces.count)] { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
    for piece in pieces { bytes += piece.bytes }
    return bytes
}

extension StoreContext {
    /// Stores `bytes` as one chunk and, in the same commit, runs `update` (which points a row at it).
    @discardableResult
    func storeChunk(_ bytes: [UInt8], _ update: (SQLiteConnection, ChunkDigest) throws -> Void) throws -> ChunkDigest {
        try write { writer in
            try writer.put(bytes)
        } commit: { db, digest in
            try update(db, digest)
            return digest
        }
    }
}
