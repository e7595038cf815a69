import AmberSystem
import Foundation
import Glibc

/// Owner-only files of the networks' directories, each replaced whole (temporary file, fsync, rename) so a
/// reader or a crash sees the old version or the new one.
enum JSONFile {
    /// What a network file may hold: a table of thousands of NICs fits; anything bigger is not Amber's.
    static let maximumBytes = 4 << 20

    /// The file's bytes, or nil when there is no such file; larger than `maximumBytes` is damage.
    static func data(at path: String) throws(NetworkError) -> Data? {
        guard let file = try? FileDescriptor.open(path, O_RDONLY) else { return nil }
        do {
            let size = try file.size()
            guard size <= UInt64(maximumBytes) else { throw NetworkError.damaged(path: path, reason: "larger than 4 MiB") }
            var bytes = [UInt8](repeating: 0, count: Int(size))
            let read = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
            return Data(bytes.prefix(read))
        } catch let error as NetworkError {
            throw error
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
    }

    static func write<T: Encodable>(_ value: T, to path: String) throws(NetworkError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try writeBytes(try encoder.encode(value) + Data("\n".utf8), to: path)
        } catch let error as NetworkError {
            throw error
        } catch {
            throw .io(path: path, cause: FailureCause(error))
        }
    }

    static func writeText(_ text: String, to path: String) throws(NetworkError) {
        try writeBytes(Data(text.utf8), to: path)
    }

    private static func writeBytes(_ data: Data, to path: String) throws(NetworkError) {
        let temporary = TemporaryFile.path(replacing: path)
        do {
            let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try data.withUnsafeBytes { try file.write($0, at: 0) }
            try file.sync()
            try retryingInterrupts("rename \(temporary)") { rename(temporary, path) }
            try FileDescriptor.syncDirectory(containing: path)
        } catch {
            unlink(temporary)
            throw .io(path: path, cause: FailureCause(error))
        }
    }

    /// Makes `path` (and its parents) owner-only directories.
    static func makeDirectory(_ path: String) throws(NetworkError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io(path: path, cause: FailureCause(error))
        }
    }
}
