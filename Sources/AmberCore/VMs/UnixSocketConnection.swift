import AmberSystem
import AmberMachineState
import Glibc

/// A connected AF_UNIX stream socket that reads newline-terminated lines and keeps whatever
/// arrived after the last line for the caller (the console stream follows a response line).
final class UnixSocketConnection {
    /// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
    static let maximumPathLength = 107

    let descriptor: FileDescriptor
    private var buffered: [UInt8] = []

    /// Connects to `path`; reads and writes on the connection give up after `timeout` seconds.
    init(connectingTo path: String, timeout: Double) throws {
        let bytes = Array(path.utf8)
        guard bytes.count <= Self.maximumPathLength else {
            throw SystemError("connect \(path)", errno: ENAMETOOLONG)
        }
        let fd = try retryingInterrupts("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        descriptor = FileDescriptor(owning: fd)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: bytes)
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw SystemError("connect \(path)") }
        try setTimeout(timeout)
    }

    /// Ends the connection both ways now (the peer reads end of stream), not when the last reference goes.
    func close() {
        descriptor.shutdownSocket()
    }

    /// Zero turns the timeout off (the console stream waits as long as the user does).
    func setTimeout(_ seconds: Double) throws {
        try descriptor.setSocketTimeout(seconds)
    }

    func writeAll(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let count = try bytes.withUnsafeBytes { buffer in
                try retryingInterrupts("send") {
                    send(descriptor.rawValue, buffer.baseAddress! + done, buffer.count - done, Int32(MSG_NOSIGNAL))
                }
            }
            done += count
        }
    }

    /// The longest line amber reads from amber-vmm, which is untrusted (a guest may have taken it over): the
    /// largest answer is a capture carrying a machine state (at most `MachineState.maximumEncodedBytes`) in
    /// base64, a third larger, beside a few other fields. Without a bound a VMM sending no newline grew
    /// `amber`'s memory until the kernel killed it.
    static let maximumLineBytes = MachineState.maximumEncodedBytes / 3 * 4 + (1 << 20)

    /// The next line without its newline, or nil when the peer closed the connection first; a line
    /// longer than `limit` bytes throws.
    func readLine(limit: Int = maximumLineBytes) throws -> String? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            guard buffered.count <= limit else { throw SystemError("read a line of more than \(limit) bytes", errno: EMSGSIZE) }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = try chunk.withUnsafeMutableBytes { buffer in
                try retryingInterrupts("recv") { recv(descriptor.rawValue, buffer.baseAddress!, buffer.count, 0) }
            }
            if count == 0 { return nil }
            buffered.append(contentsOf: chunk[..<count])
        }
    }

    /// Bytes received after the last line read.
    func takeBuffered() -> [UInt8] {
        defer { buffered = [] }
        return buffered
    }
}
