import AmberControl
import AmberSystem

/// What can go wrong starting, finding or controlling a VM.
public enum VMLifecycleError: CausedError, CustomStringConvertible, Equatable {
    case notFound(name: String)
    case notRunning(name: String)
    case alreadyRunning(name: String, pid: Int32?)
    case vmmNotFound(searched: String)
    case spawnFailed(path: String, cause: FailureCause)
    case unreachable(name: String, reason: String)
    /// amber-vmm (or, for a rollback already under way, amber) refused `operation`; the refusal's code
    /// says whether trying again later can succeed (`isTransient`).
    case refused(name: String, operation: String, refusal: ControlRefusal)
    case protocolViolation(name: String, detail: String)
    case exitedDuringStart(name: String, status: String, logPath: String, logTail: String)
    case startTimedOut(name: String, seconds: Int, logPath: String, logTail: String)
    case noConsoleLog(name: String)
    case stopTimedOut(name: String, seconds: Double)
    case nameTaken(name: String)
    case removingRunning(name: String)
    case setAside(path: String, cause: FailureCause)

    public var description: String {
        switch self {
        case .notFound(let name):
            return "no VM named \(name) (see `amber ps`)"
        case .notRunning(let name):
            return "VM \(name) is not running (see `amber ps`)"
        case .alreadyRunning(let name, let pid):
            return
                "VM \(name) is already running\(pid.map { " (pid \($0))" } ?? ""): stop it first with `amber stop \(name)` or choose another name"
        case .vmmNotFound(let searched):
            return "amber-vmm not found (looked in \(searched)): build it with `swift build --product amber-vmm` or `make build`"
        case .spawnFailed(let path, let cause):
            return "cannot start \(path): \(cause)"
        case .unreachable(let name, let reason):
            return "VM \(name) does not answer on its control socket (\(reason))"
        case .refused(let name, let operation, let refusal):
            return "VM \(name) refused \(operation): \(refusal.message)" + (refusal.cause.map { " (\($0))" } ?? "")
        case .protocolViolation(let name, let detail):
            return "VM \(name) answered its control socket with something unexpected: \(detail)"
        case .exitedDuringStart(let name, let status, let logPath, let logTail):
            return "amber-vmm for \(name) \(status) before the VM was running; \(logPath) ends: \(logTail)"
        case .startTimedOut(let name, let seconds, let logPath, let logTail):
            return "VM \(name) was not running after \(seconds) s, so amber-vmm was killed; \(logPath) ends: \(logTail)"
        case .noConsoleLog(let name):
            return "VM \(name) has no console log: it was started without --detach, so its console is the terminal of that `amber run`"
        case .setAside(let path, let cause):
            return "cannot move \(path) aside for the rollback (\(cause)): check the VM directory's permissions and free space"
        case .removingRunning(let name):
            return "VM \(name) is running: stop it first with `amber stop \(name)`"
        case .nameTaken(let name):
            return "a VM named \(name) already exists: pick another name, or remove it with `amber rm \(name)`"
        case .stopTimedOut(let name, let seconds):
            return
                "VM \(name) did not exit within \(seconds) s of `amber stop`, and no live amber-vmm pid is recorded to kill: find it with `ps -ef | grep amber-vmm`"
        }
    }
}

extension VMLifecycleError {
    /// The control socket's refusal behind this error, if it is one: its `code` tells "busy, retry"
    /// (`isTransient`) from a refusal that will not change.
    public var refusal: ControlRefusal? {
        if case .refused(_, _, let refusal) = self { return refusal }
        return nil
    }

    /// The failed call under this error: a spawn or a move's errno, or amber-vmm's failed call and errno.
    public var cause: FailureCause? {
        switch self {
        case .spawnFailed(_, let cause), .setAside(_, let cause): return cause
        case .refused(_, _, let refusal):
            return refusal.cause.map { FailureCause(reason: "\($0)", errno: $0.errno) }
        default: return nil
        }
    }
}
