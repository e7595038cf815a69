import AmberControl
import AmberSystem
import Foundation

/// Talks to one amber-vmm over its control socket: one JSON request line, one JSON reply line.
struct ControlClient {
    let name: String
    let socketPath: String

    init(_ directory: VMDirectory) {
        self.init(name: directory.name, socketPath: directory.controlSocket.path)
    }

    init(name: String, socketPath: String) {
        self.name = name
        self.socketPath = socketPath
    }

    /// Sends `request` (status, pause, resume, stop) and returns the VM's status after it; a refusal
    /// becomes `VMLifecycleError.refused`, carrying amber-vmm's code.
    @discardableResult
    func send(_ request: ControlRequest, timeout: Double = 10) throws -> VMStatus {
        let connection = try connect(timeout: timeout)
        defer { connection.close() }
        return try status(in: exchange(request, on: connection), answering: request)
    }

    func status(timeout: Double = 2) throws -> VMStatus {
        try send(.status, timeout: timeout)
    }

    /// After an accepted `console` request the connection is the raw console stream; bytes that arrived
    /// with the reply are returned so none of the console output is lost.
    func openConsole() throws -> (connection: UnixSocketConnection, initialOutput: [UInt8]) {
        let connection = try connect(timeout: 10)
        _ = try status(in: exchange(.console, on: connection), answering: .console)
        try connection.setTimeout(0)
        return (connection, connection.takeBuffered())
    }

    /// Pauses the VM for a snapshot and (with `memory`) has its memory held as it is now: see `SnapshotHold`.
    func beginSnapshot(memory: Bool = true) throws -> SnapshotHold {
        let connection = try connect(timeout: 60)
        do {
            let reply = try exchange(.snapshotBegin(memory: memory), on: connection)
            guard case .snapshotBegun(let capture) = reply else { throw unexpected(reply, answering: .snapshotBegin(memory: memory)) }
            return SnapshotHold(client: self, connection: connection, capture: capture)
        } catch {
            connection.close()
            throw error
        }
    }

    private func status(in reply: ControlReply, answering request: ControlRequest) throws -> VMStatus {
        guard case .status(let status) = reply else { throw unexpected(reply, answering: request) }
        return status
    }

    /// A refusal as the error it is; any other reply than the one expected as a protocol violation.
    func unexpected(_ reply: ControlReply, answering request: ControlRequest) -> VMLifecycleError {
        if case .refused(let refusal) = reply {
            return .refused(name: name, operation: Self.userFacingName(request), refusal: refusal)
        }
        return .protocolViolation(name: name, detail: "a \(reply.kind) reply to \(request.operation)")
    }

    /// What `amber`'s messages call the request's operation ("VM x refused snapshot: ...").
    private static func userFacingName(_ request: ControlRequest) -> String {
        switch request {
        case .snapshotBegin: "snapshot"
        case .snapshotRelease: "snapshot resume"
        case .snapshotEnd: "snapshot end"
        case .snapshotCommitted: "snapshot record"
        case .status, .pause, .resume, .stop, .console: request.operation
        }
    }

    private func connect(timeout: Double) throws -> UnixSocketConnection {
        do {
            return try UnixSocketConnection(connectingTo: socketPath, timeout: timeout)
        } catch let error as SystemError {
            throw VMLifecycleError.unreachable(name: name, reason: error.description)
        }
    }

    func exchange(_ request: ControlRequest, on connection: UnixSocketConnection) throws -> ControlReply {
        let line: String?
        do {
            try connection.writeAll(try ControlProtocol.line(request))
            line = try connection.readLine()
        } catch let error as SystemError {
            throw VMLifecycleError.unreachable(name: name, reason: error.description)
        }
        guard let line else {
            throw VMLifecycleError.unreachable(name: name, reason: "it closed the connection without answering \(request.operation)")
        }
        do {
            return try ControlProtocol.decode(ControlReply.self, from: Array(line.utf8))
        } catch let error as ControlProtocolError {
            if case .versionMismatch = error {
                throw VMLifecycleError.protocolViolation(name: name, detail: "its amber-vmm answered in \(error)")
            }
            throw VMLifecycleError.protocolViolation(name: name, detail: String(line.prefix(200)))
        }
    }
}
