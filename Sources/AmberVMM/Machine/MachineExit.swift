/// Why a machine stopped running. Rebooting ends the VMM too (Firecracker's semantics): whoever
/// started it decides whether to start it again.
public enum MachineExit: Equatable, Sendable, CustomStringConvertible {
    case poweredOff
    case rebooted
    /// Stopped from outside (the control socket's `stop`).
    case stopped
    /// The guest did something that cannot continue (triple fault, failed entry, KVM internal
    /// error) or the VMM failed to run it.
    case crashed(reason: String)

    public var description: String {
        switch self {
        case .poweredOff: return "guest powered off"
        case .rebooted: return "guest rebooted"
        case .stopped: return "stopped on request"
        case .crashed(let reason): return "guest crashed: \(reason)"
        }
    }

    /// amber-vmm's exit status: 0 for an orderly end, 1 for a crash.
    public var exitStatus: Int32 {
        if case .crashed = self { return 1 }
        return 0
    }
}
