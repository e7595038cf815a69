import AmberSystem
import AmberVMM
import Glibc
import Synchronization

/// SIGTERM, SIGINT and SIGHUP stop the VM like `amber stop` does, so the socket is removed and the
/// terminal restored. A signal that arrives before the VM exists ends the process at once.
final class StopRequests: Sendable {
    private let host = Mutex<VMMHost?>(nil)

    var target: VMMHost? {
        get { host.withLock { $0 } }
        set { host.withLock { $0 = newValue } }
    }

    func deliver(_ signal: Int32) {
        guard let host = target else {
            Lifecycle.fail("stopped by signal \(signal) before the VM started", status: 1)
        }
        Lifecycle.log("signal \(signal) received")
        host.requestStop()
    }
}
