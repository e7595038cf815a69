import AmberControl
import AmberSystem
import Glibc

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
    /// Begins a snapshot for process `client` (see `SnapshotSession`). One at a time: refused with
    /// `snapshotInProgress` while another one's session is open.
    func beginSnapshot(memory: Bool, client: Int32) throws -> SnapshotSession
}

/// Serves `ControlProtocol` on a Unix socket (mode 0600): one thread accepts, one thread per
/// connection reads a JSON request line and writes a JSON reply line; a `console` connection
/// then carries raw bytes both ways until either side closes it.
/// Unchecked: `openConnections` is reached only under `connectionCount`; `target` is set in `init` and
/// `acceptThread` by `start`, before any thread of this server exists, and only read afterwards.
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
                respond(
                    client,
                    .refused(
                        ControlRefusal(
                            .tooManyConnections, "\(Self.maximumConnections) control connections are open already: close some and try again"
                        )))
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
            respond(client, .refused(ControlRefusal(.notPermitted, "refused: only the user who started this VM may control it")))
            return
        }
        let reader = LineReader(client)
        try? client.setSocketTimeout(Self.requestTimeout)
        guard let line = try? reader.readLine(limit: ControlProtocol.maximumRequestBytes) else { return }
        try? client.setSocketTimeout(0)
        let request: ControlRequest
        do {
            request = try ControlProtocol.decode(ControlRequest.self, from: line)
        } catch {
            respond(client, .refused(Self.unreadable(error)))
            return
        }
        switch request {
        case .status:
            respond(client, .status(target.status()))
        case .pause:
            respond(client, outcome(target) { try target.pause() })
        case .resume:
            respond(client, outcome(target) { try target.resume() })
        case .stop:
            respond(client, .status(target.status()))
            target.requestStop()
        case .console:
            respond(client, .status(target.status()))
            relayConsole(client, to: target, alreadyRead: reader.takeBuffered())
        case .snapshotBegin(let memory):
            holdForSnapshot(client, memory: memory, by: peer.pid, reader: reader, target: target)
        case .snapshotRelease, .snapshotEnd, .snapshotCommitted:
            respond(
                client,
                .refused(
                    ControlRefusal(
                        .outOfOrder, "\(request.operation) without snapshotBegin: send it on the connection that began the snapshot")))
        }
    }

    /// A request line that is not one: a refusal saying why (another build's amber, or not a request).
    private static func unreadable(_ error: any Error) -> ControlRefusal {
        if let error = error as? ControlProtocolError, case .versionMismatch = error {
            return ControlRefusal(.versionMismatch, "amber-vmm refused a request in \(error)")
        }
        return ControlRefusal(
            .badRequest,
            "bad control request: expected one JSON ControlRequest line of protocol version \(ControlProtocol.version), e.g. {\"op\":\"status\",\"v\":\(ControlProtocol.version)}"
        )
    }

    /// Serves one snapshot's session on the connection that began it, step by step as the client
    /// sends them; whatever ends the connection early (end of stream, an unreadable or out-of-order
    /// request) closes the session there, so a killed `amber snapshot` never leaves the VM paused nor
    /// its memory held.
    private func holdForSnapshot(_ client: FileDescriptor, memory: Bool, by pid: Int32, reader: LineReader, target: ControlTarget) {
        let session: SnapshotSession
        do {
            session = try target.beginSnapshot(memory: memory, client: pid)
        } catch {
            respond(client, .refused(ControlRefusal(failure: error)))
            return
        }
        defer { session.close() }
        respond(client, .snapshotBegun(session.capture))
        while let line = try? reader.readLine() {
            let reply: ControlReply
            do {
                switch try ControlProtocol.decode(ControlRequest.self, from: line) {
                case .snapshotRelease: reply = .snapshotReleased(pauseMicroseconds: try session.release())
                case .snapshotEnd: reply = .snapshotEnded(pauseMicroseconds: try session.end())
                case .snapshotCommitted(let id):
                    try session.commit(as: id)
                    reply = .snapshotCommitted
                case let other:
                    throw ControlRefusal(
                        .outOfOrder, "\(other.operation) during a snapshot: this connection only takes the snapshot's next step")
                }
            } catch let error as ControlProtocolError {
                respond(client, .refused(Self.unreadable(error)))
                return
            } catch {
                respond(client, .refused(ControlRefusal(failure: error)))
                return
            }
            respond(client, reply)
            if case .snapshotCommitted = reply { return }
        }
    }

    private func outcome(_ target: ControlTarget, _ action: () throws -> Void) -> ControlReply {
        do {
            try action()
            return .status(target.status())
        } catch {
            return .refused(ControlRefusal(failure: error))
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

    private func respond(_ client: FileDescriptor, _ reply: ControlReply) {
        guard let line = try? ControlProtocol.line(reply) else { return }
        try? line.withUnsafeBytes { try client.writeAll($0) }
    }
}
