import Glibc

/// Whether a host port is free for publishing: no program on the host listens on it. Asked by binding it
/// (and letting go at once): what the kernel says is the only answer that covers every program.
enum PortAvailability {
    static func isFree(_ port: PublishedPort) -> Bool {
        let kind = port.transport == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let socket = Glibc.socket(AF_INET, kind | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return true }
        defer { close(socket) }
        // A TCP port in TIME_WAIT after a closed connection is free for a listener that sets this, as servers do.
        var on: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.hostPort.bigEndian
        address.sin_addr = in_addr(s_addr: INADDR_ANY)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0 || errno != EADDRINUSE
    }
}
