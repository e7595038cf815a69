import AmberSystem
import Synchronization

/// Where the serial console's output goes: the primary sink (amber-vmm's stdout or the console log
/// file) and every client attached through the control socket's `console` operation.
public final class ConsoleHub: Sendable {
    private let primary: FileDescriptor?
    /// Held while a byte run goes out, so runs from different vCPUs never interleave in a sink.
    private let clients = Mutex<[ObjectIdentifier: FileDescriptor]>([:])

    public init(primary: FileDescriptor?) {
        self.primary = primary
    }

    /// Called on vCPU threads with each transmitted byte run. A client that cannot keep up is
    /// dropped rather than allowed to stall the guest.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            clients.withLock { clients in
                if let primary {
                    // A closed stdout or full disk must not stop the guest; the bytes are lost.
                    try? primary.writeAll(buffer)
                }
                for (key, client) in clients where !client.sendWithoutBlocking(buffer) {
                    clients[key] = nil
                    client.shutdownSocket()
                }
            }
        }
    }

    public func attach(_ client: FileDescriptor) {
        clients.withLock { $0[ObjectIdentifier(client)] = client }
    }

    public func detach(_ client: FileDescriptor) {
        clients.withLock { $0[ObjectIdentifier(client)] = nil }
    }

    /// Disconnects every client (the VM is going away).
    public func detachAll() {
        clients.withLock { clients in
            clients.values.forEach { $0.shutdownSocket() }
            clients = [:]
        }
    }
}
