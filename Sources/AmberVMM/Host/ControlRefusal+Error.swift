import AmberControl
import AmberKVM
import AmberSystem

extension ControlRefusal {
    /// `error` as a refusal for the control socket: a refusal thrown as one stays as it is; any other
    /// failure is `failed`, with its one-line description and, where a system call or ioctl failed,
    /// that call and its errno as the cause.
    init(failure error: any Error) {
        switch error {
        case let refusal as ControlRefusal:
            self = refusal
        case let error as SystemError:
            self.init(.failed, error.description, cause: Cause(call: error.operation, errno: error.errno))
        case let error as KVMError:
            switch error {
            case .ioctl(let operation, let code): self.init(.failed, error.description, cause: Cause(call: operation, errno: code))
            case .unavailable(let path, let code): self.init(.failed, error.description, cause: Cause(call: "open \(path)", errno: code))
            default: self.init(.failed, error.description)
            }
        default:
            self.init(.failed, "\(error)")
        }
    }
}
