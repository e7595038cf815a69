import AmberSystem
import Glibc

/// Connects this terminal to a running VM's serial console through its control socket until the
/// user types the escape byte, or the VM goes away.
public struct ConsoleSession {
    /// Ctrl-] (0x1D), as telnet and `virsh console` use it.
    public static let escapeByte: UInt8 = 0x1D
    public static let escapeName = "Ctrl-]"

    public enum Ending: Equatable, Sendable {
        case detached
        case vmExited
    }

    public let manager: VMManager

    public init(manager: VMManager) {
        self.manager = manager
    }

    /// `announce` is called once connected, before the terminal goes raw.
    public func attach(_ name: String, announce: () -> Void) throws -> Ending {
        let directory = try manager.running(name)
        let (connection, initialOutput) = try ControlClient(directory).openConsole()
        announce()
        let terminal = TerminalRawMode(STDIN_FILENO)
        defer { terminal?.restore() }
        try writeAll(initialOutput, to: STDOUT_FILENO)
        return try pump(socket: connection.descriptor.rawValue, escapes: terminal != nil)
    }

    /// Copies socket -> stdout and stdin -> socket. When stdin is a terminal the escape byte ends
    /// the session; when stdin ends (a pipe) output keeps flowing until the VM closes the stream.
    private func pump(socket: Int32, escapes: Bool) throws -> Ending {
        var inputOpen = true
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            var fds = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: inputOpen ? STDIN_FILENO : -1, events: Int16(POLLIN), revents: 0),
            ]
            try retryingInterrupts("poll") { poll(&fds, nfds_t(fds.count), -1) }
            if fds[0].revents != 0 {
                let count = try read(socket, into: &buffer)
                if count == 0 { return .vmExited }
                try writeAll(Array(buffer[..<count]), to: STDOUT_FILENO)
            }
            if fds[1].revents != 0 {
                let count = try read(STDIN_FILENO, into: &buffer)
                if count == 0 {
                    inputOpen = false
                    continue
                }
                var input = Array(buffer[..<count])
                if escapes, let escape = input.firstIndex(of: Self.escapeByte) {
                    input = Array(input[..<escape])
                    try writeAll(input, to: socket)
                    return .detached
                }
                try writeAll(input, to: socket)
            }
        }
    }

    private func read(_ fd: Int32, into buffer: inout [UInt8]) throws -> Int {
        let capacity = buffer.count
        return try buffer.withUnsafeMutableBytes { bytes in
            try retryingInterrupts("read") { Glibc.read(fd, bytes.baseAddress!, capacity) }
        }
    }

    private func writeAll(_ bytes: [UInt8], to fd: Int32) throws {
        var done = 0
        while done < bytes.count {
            done += try bytes.withUnsafeBytes { buffer in
                try retryingInterrupts("write") { Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done) }
            }
        }
    }
}
