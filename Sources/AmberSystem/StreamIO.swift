import Glibc

/// Stream reads and writes (sockets, pipes, terminals), as opposed to the positioned I/O for files.
extension FileDescriptor {
    /// Reads what is available, blocking until at least one byte arrives; returns 0 at end of stream.
    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try retryingInterrupts("read") { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `buffer`, looping over short writes.
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            done += try retryingInterrupts("write") { Glibc.write(rawValue, buffer.baseAddress! + done, buffer.count - done) }
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    /// Shuts down both directions of a socket, waking any thread blocked reading it.
    public func shutdownSocket() {
        shutdown(rawValue, Int32(SHUT_RDWR))
    }
}

/// Reads newline-terminated lines from a stream, keeping bytes that follow the line for later.
/// One reader at a time: it is owned by the thread that serves its stream.
public final class LineReader {
    private let descriptor: FileDescriptor
    private var pending: [UInt8] = []

    public init(_ descriptor: FileDescriptor) {
        self.descriptor = descriptor
    }

    /// The next line without its newline, or nil at end of stream; lines longer than `limit` throw.
    public func readLine(limit: Int = 1 << 20) throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                return line
            }
            guard pending.count <= limit else { throw SystemError("read line (longer than \(limit) bytes)", errno: EMSGSIZE) }
            let n = try chunk.withUnsafeMutableBytes { try descriptor.readSome(into: $0) }
            if n == 0 { return nil }
            pending.append(contentsOf: chunk[..<n])
        }
    }

    /// Bytes read past the last line, handed over when the stream changes protocol.
    public func takeBuffered() -> [UInt8] {
        defer { pending = [] }
        return pending
    }
}

extension FileDescriptor {
    /// Sends without blocking: returns false when the peer is gone or not keeping up (its buffer is
    /// full), so a slow reader never stalls the sender.
    public func sendWithoutBlocking(_ buffer: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = send(rawValue, buffer.baseAddress! + done, buffer.count - done, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }
}
