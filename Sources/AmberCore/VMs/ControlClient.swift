import AmberVMM
import AmberSystem
import Foundation

/// Talks to one amber-vmm over its control socket: one JSON request line, one JSON response line.
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

    /// Sends `operation` and returns the successful response; a refusal becomes an error.
    func send(_ operation: ControlRequest.Operation, timeout: Double = 10) throws -> ControlResponse {
        try accepted(ControlRequest(operation), on: try connect(timeout: timeout), as: operation.rawValue)
    }

    func status(timeout: Double = 2) throws -> VMStatus {
        guard let status = try send(.status, timeout: timeout).status else {
            throw VMLifecycleError.protocolViolation(name: name, detail: "a status response without status")
        }
        return status
    }

    /// After an ok `console` response the connection is the raw console stream; bytes that arrived
    /// with the response are returned so none of the console output is lost.
    func openConsole() throws -> (connection: UnixSocketConnection, initialOutput: [UInt8]) {
        let connection = try connect(timeout: 10)
        _ = try accepted(ControlRequest(.console), on: connection, as: "console")
        try connection.setTimeout(0)
        return (connection, connection.takeBuffered())
    }

    /// Pauses the VM for a snapshot and (with `memory`) has its memory held as it is now. It stays
    /// paused until `releaseSnapshot` and the memory held until `endSnapshot`; closing the connection
    /// (or dying) ends both.
    func beginSnapshot(memory: Bool = true) throws -> (hold: UnixSocketConnection, capture: SnapshotCapture) {
        let connection = try connect(timeout: 60)
        guard let capture = try accepted(ControlRequest(.snapshotBegin, memory: memory), on: connection, as: "snapshot").capture else {
            throw VMLifecycleError.protocolViolation(name: name, detail: "a snapshotBegin response without capture")
        }
        return (connection, capture)
    }

    /// The guest runs on (unless it was paused before) while its memory stays held; returns how long
    /// the snapshot kept it paused, in microseconds.
    func releaseSnapshot(_ hold: UnixSocketConnection) throws -> Int64 {
        try accepted(ControlRequest(.snapshotRelease), on: hold, as: "snapshot resume").pauseMicroseconds ?? 0
    }

    /// Ends the hold: amber-vmm lets go of the held memory, resumes the VM if `releaseSnapshot` did
    /// not, and says how long the snapshot kept it paused, in microseconds.
    func endSnapshot(_ hold: UnixSocketConnection) throws -> Int64 {
        try accepted(ControlRequest(.snapshotEnd), on: hold, as: "snapshot end").pauseMicroseconds ?? 0
    }

    /// Tells amber-vmm the snapshot taken on `hold` was recorded as `id`, after `endSnapshot`: its
    /// disks' changes now count from that snapshot. Closing `hold` without this hands them back.
    func snapshotRecorded(_ hold: UnixSocketConnection, id: String) throws {
        _ = try accepted(ControlRequest(.snapshotCommitted, snapshotID: id), on: hold, as: "snapshot record")
    }

    private func connect(timeout: Double) throws -> UnixSocketConnection {
        do {
            return try UnixSocketConnection(connectingTo: socketPath, timeout: timeout)
        } catch let error as SystemError {
            throw VMLifecycleError.unreachable(name: name, reason: error.description)
        }
    }

    /// The response to `request` if amber-vmm accepted it; a refusal of `operation` becomes an error.
    private func accepted(_ request: ControlRequest, on connection: UnixSocketConnection, as operation: String) throws -> ControlResponse {
        let response = try exchange(request, on: connection)
        guard response.ok else {
            throw VMLifecycleError.refused(name: name, operation: operation, message: response.error ?? "no reason given")
        }
        return response
    }

    private func exchange(_ request: ControlRequest, on connection: UnixSocketConnection) throws -> ControlResponse {
        let operation = request.op
        let line: String?
        do {
            var request = try JSONEncoder().encode(request)
            request.append(UInt8(ascii: "\n"))
            try connection.writeAll(Array(request))
            line = try connection.readLine()
        } catch let error as SystemError {
            throw VMLifecycleError.unreachable(name: name, reason: error.description)
        }
        guard let line else {
            throw VMLifecycleError.unreachable(name: name, reason: "it closed the connection without answering \(operation.rawValue)")
        }
        do {
            return try JSONDecoder().decode(ControlResponse.self, from: Data(line.utf8))
        } catch {
            throw VMLifecycleError.protocolViolation(name: name, detail: String(line.prefix(200)))
        }
    }
}
