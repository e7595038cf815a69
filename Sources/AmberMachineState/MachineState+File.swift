import AmberSystem
import Glibc

extension MachineState {
    /// Writes the encoded state to `path` atomically: a temporary file beside it, fsync, rename. A
    /// crash leaves either the old file or the new one, never half of one.
    public func write(to path: String) throws {
        let bytes = try encoded()
        let temporary = TemporaryFile.path(replacing: path)
        do {
            let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try bytes.withUnsafeBytes { try file.write($0, at: 0) }
            try file.sync()
            try retryingInterrupts("rename \(temporary)") { rename(temporary, path) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Reads and decodes a state file, refusing one larger than any machine state before reading it.
    public init(contentsOf path: String) throws {
        try self.init(encoded: try Self.fileBytes(path))
    }

    /// A state file's bytes, refusing one larger than any machine state before reading it.
    static func fileBytes(_ path: String) throws -> [UInt8] {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY)
        } catch {
            throw MachineStateError("cannot open machine state \(path): \(error)")
        }
        let size = try file.size()
        guard size <= UInt64(Self.headerSize + Self.maximumEncodedBytes) else {
            throw MachineStateError(
                "\(path) is \(size) bytes, more than the \(Self.maximumEncodedBytes) a machine state can be: it is not one")
        }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let read = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return Array(bytes.prefix(read))
    }
}
