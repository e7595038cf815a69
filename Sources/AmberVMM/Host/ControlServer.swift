import AmberSystem
import Glibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the control socket can ask of a running VM.
public protocol ControlTarget: AnyObject, Sendable {
    func status() -> VMStatus
    func pause() throws
    func resume() throws
    /// Asks the VM to stop; returns at once.
    func requestStop()
    /// Serial output from now on also goes to `client`.
    func attachConsole(_ client: FileDescriptor)
    func detachConsole(_ client: FileDescriptor)
    /// Bytes typed into the serial port.
    func typeIntoConsole(_ bytes: [UInt8])
    /// Pauses the VM (unless `amber pause` already did), captures its state and, with `memory`, holds
    /// its memory as it is now; the VM stays paused until `releaseSnapshot` or `endSnapshot`, or until
    /// the VM's snapshot pause limit passes (the snapshot is then abandoned). One snapshot at a time: the
    /// next can begin once `finishSnapshot` has run. `client` is the pid of the process taking it.
    func beginSnapshot(memory: Bool, client: Int32) throws -> SnapshotCapture
    /// Lets the guest run on (unless it was paused before `beginSnapshot`); the held memory stays.
    func releaseSnapshot(_ capture: SnapshotCapture) throws
    /// Lets go of the held memory and resumes the VM if `releaseSnapshot` did not.
    func endSnapshot(_ capture: SnapshotCapture) throws
    /// After `endSnapshot`: the snapshot was recorded as `id` (the disks' changes now count from
    /// it), or, with nil, it was not (its changed chunks count as changed again).
    func finishSnapshot(_ capture: SnapshotCapture, recordedAs id: String?)
}

/// Serves `ControlProtocol` on a Unix socket (mode 0600): one thread accepts, one thread per
/// connection reads a JSON request line and writes a JSON response line; a `console` connection
/// then carries raw bytes both ways until either side closes it.
public final class ControlServer: @unchecked Sendable {
    /// Connections served at once; more are answered with an error and closed (a thread each).
    public static let maximumConnections = 64
    /// Seconds a new connection has to send its request line before it is closed. Console streams and
    /// snapshot holds wait as long as their client, once their request has come.
    public static let requestTimeout = 5.0

    private let listener: UnixListener
    private let connectionCount = ConditionLock()
    private var openConnections = 0
    /// Weak: connection threads may outlive the VM they served by a moment.
    private weak var target: ControlTarget?
    private var acceptThread: NativeThread?

    public init(path: String, target: ControlTarget) throws {
        listener = try UnixListener(path: path)
        self.target = target
    }

    public var path: String { listener.path }

    public func start() throws {
        acceptThread = try NativeThread(name: "control") { [self] in acceptLoop() }
    }

    /// Removes the socket path and stops accepting; connections already open end with their clients.
    public func close() {
        listener.removePath()
        listener.descriptor.shutdownSocket()
        acceptThread?.join()
    }

    private func acceptLoop() {
        while let client = try? listener.accept() {
            let admitted = connectionCount.withLock { () -> Bool in
                guard openConnections < Self.maximumConnections else { return false }
                openConnections += 1
                return true
            }
            guard admitted else {
                try? client.setSocketTimeout(1)
                respond(client, ControlResponse(ok: false, error: "\(Self.maximumConnections) control connections are open already: close some and try again"))
                continue
            }
            do {
                try NativeThread.detached(name: "control-client") { [self] in
                    defer { connectionCount.withLock { openConnections -= 1 } }
                    serve(client)
                }
            } catch {
                connectionCount.withLock { openConnections -= 1 }
            }
        }
    }

    private func serve(_ client: FileDescriptor) {
        guard let target else { return }
        // Only the VM's owner (and root) may control it, whatever the socket file's mode says.
        guard let peer = try? client.peerCredentials(), peer.uid == geteuid() || peer.uid == 0 else {
            respond(client, ControlResponse(ok: false, error: "refused: only the user who started this VM may control it"))
            return
        }
        let reader = LineReader(client)
        try? client.setSocketTimeout(Self.requestTimeout)
        guard let line = try? reader.readLine(limit: 64 << 10) else { return }
        try? client.setSocketTimeout(0)
        let request: ControlRequest
        do {
            request = try JSONDecoder().decode(ControlRequest.self, from: Data(line))
        } catch {
            respond(client, ControlResponse(ok: false, error: "bad control request: expected one JSON ControlRequest line, e.g. {\"op\":\"status\"}"))
            return
        }
        switch request.op {
        case .status:
            respond(client, ControlResponse(ok: true, status: target.status()))
        case .pause:
            respond(client, outcome(target) { try target.pause() })
        case .resume:
            respond(client, outcome(target) { try target.resume() })
        case .stop:
            respond(client, ControlResponse(ok: true, status: target.status()))
            target.requestStop()
        case .console:
            respond(client, ControlResponse(ok: true, status: target.status()))
            relayConsole(client, to: target, alreadyRead: reader.takeBuffered())
        case .snapshotBegin:
            holdForSnapshot(client, memory: request.memory ?? true, by: peer.pid, reader: reader, target: target)
        case .snapshotRelease, .snapshotEnd, .snapshotCommitted:
            respond(client, ControlResponse(ok: false, error: "\(request.op.rawValue) without snapshotBegin: send it on the connection that began the snapshot", status: target.status()))
        }
    }

    /// Keeps the VM paused for one snapshot until the client sends `snapshotRelease`, and its held
    /// memory until `snapshotEnd`, or until the client closes the connection or dies, so a killed
    /// `amber snapshot` never leaves the VM paused nor its memory held.
    private func holdForSnapshot(_ client: FileDescriptor, memory: Bool, by pid: Int32, reader: LineReader, target: ControlTarget) {
        let started = MonotonicClock.now()
        let capture: SnapshotCapture
        do {
            capture = try target.beginSnapshot(memory: memory, client: pid)
        } catch {
            respond(client, ControlResponse(ok: false, error: "\(error)", status: target.status()))
            return
        }
        respond(client, ControlResponse(ok: true, status: target.status(), capture: capture))
        // Whatever arrives (snapshotRelease, snapshotEnd) or not (end of stream, error) moves the hold on.
        var next = nextRequest(reader)
        var pauseMicros: Int64?
        if next?.op == .snapshotRelease {
            do {
                try target.releaseSnapshot(capture)
                pauseMicros = Self.microseconds(since: started)
                respond(client, ControlResponse(ok: true, status: target.status(), pauseMicroseconds: pauseMicros))
                next = nextRequest(reader)
            } catch {
                respond(client, ControlResponse(ok: false, error: "\(error)", status: target.status()))
                next = nil
            }
        }
        do {
            try target.endSnapshot(capture)
            let micros = pauseMicros ?? Self.microseconds(since: started)
            respond(client, ControlResponse(ok: true, status: target.status(), pauseMicroseconds: micros))
        } catch {
            respond(client, ControlResponse(ok: false, error: "\(error)", status: target.status()))
        }
        guard next?.op == .snapshotEnd else {
            target.finishSnapshot(capture, recordedAs: nil)
            return
        }
        // The client records the snapshot, then says under which id; silence means it was not.
        let committed = nextRequest(reader)
        let id = committed?.op == .snapshotCommitted ? committed?.snapshotID : nil
        target.finishSnapshot(capture, recordedAs: id)
        if id != nil { respond(client, ControlResponse(ok: true, status: target.status())) }
    }

    private static func microseconds(since start: Double) -> Int64 {
        Int64((MonotonicClock.now() - start) * 1_000_000)
    }

    /// The next request line, or nil at the end of the stream or for anything unreadable.
    private func nextRequest(_ reader: LineReader) -> ControlRequest? {
        guard let line = try? reader.readLine() else { return nil }
        return try? JSONDecoder().decode(ControlRequest.self, from: Data(line))
    }

    private func outcome(_ target: ControlTarget, _ action: () throws -> Void) -> ControlResponse {
        do {
            try action()
            return ControlResponse(ok: true, status: target.status())
        } catch {
            return ControlResponse(ok: false, error: "\(error)", status: target.status())
        }
    }

    private func relayConsole(_ client: FileDescriptor, to target: ControlTarget, alreadyRead: [UInt8]) {
        target.attachConsole(client)
        defer { target.detachConsole(client) }
        if !alreadyRead.isEmpty { target.typeIntoConsole(alreadyRead) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = (try? buffer.withUnsafeMutableBytes { try client.readSome(into: $0) }) ?? 0
            if count == 0 { return }
            target.typeIntoConsole(Array(buffer[..<count]))
        }
    }

    private func respond(_ client: FileDescriptor, _ response: ControlResponse) {
        guard var data = try? JSONEncoder().encode(response) else { return }
        data.append(UInt8(ascii: "\n"))
        try? data.withUnsafeBytes { try client.writeAll($0) }
    }
}
