import AmberSystem
import AmberVMM
import Glibc

/// SIGTERM, SIGINT and SIGHUP stop the VM like `amber stop` does, so the socket is removed and the
/// terminal restored. A signal that arrives before the VM exists ends the process at once.
final class StopRequests: @unchecked Sendable {
    private let lock = ConditionLock()
    private var host: VMMHost?

    var target: VMMHost? {
        get { lock.withLock { host } }
        set { lock.withLock { host = newValue } }
    }

    func deliver(_ signal: Int32) {
        guard let host = target else {
            Lifecycle.fail("stopped by signal \(signal) before the VM started", status: 1)
        }
        Lifecycle.log("signal \(signal) received")
        host.requestStop()
    }
}
