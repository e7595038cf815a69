import AmberStore
import AmberSystem
import Foundation
import Glibc

/// A store directory private to this process, created on first use and removed at exit: the pack
/// target writes each input there as a pack file, because the pack reader reads files, not buffers.
enum FuzzScratch {
    static let packName = "fuzz-input"

    static let store: ChunkStore = {
        var template = Array("/tmp/amber-fuzz-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { buffer -> String in
            guard mkdtemp(buffer.baseAddress!) != nil else { fatalError("amber-fuzz: cannot create a scratch directory in /tmp") }
            return String(cString: buffer.baseAddress!)
        }
        scratchDirectory = path
        atexit { if let scratchDirectory { try? FileManager.default.removeItem(atPath: scratchDirectory) } }
        do {
            return try ChunkStore(directory: URL(fileURLWithPath: path).appendingPathComponent("store"))
        } catch {
            fatalError("amber-fuzz: cannot create a scratch store in \(path): \(error)")
        }
    }()

    /// Where the atexit handler (a C function pointer, which captures nothing) finds the directory to remove.
    /// Unsafe only in name: it is written once, inside the store's lazy initializer (which Swift runs once),
    /// and read at exit.
    nonisolated(unsafe) private static var scratchDirectory: String?

    /// Replaces the scratch pack's contents with `bytes`.
    static func writePack(_ bytes: [UInt8]) throws {
        let file = try FileDescriptor.open(store.packPath(packName), O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try bytes.withUnsafeBytes { try file.write($0, at: 0) }
    }
}
