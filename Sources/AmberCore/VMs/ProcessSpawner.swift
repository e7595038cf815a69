import AmberSystem
import Glibc

/// Starts amber-vmm (through `ChildProcess`): with no environment of the caller's and the signals a foreground
/// `amber run` forwards reset to their default action.
enum ProcessSpawner {
    typealias StandardStreams = ChildProcess.StandardStreams

    /// amber-vmm reads no environment variable: it gets none of the caller's (secrets, LD_* and the like
    /// stay out of the process the guest can reach), only a fixed PATH.
    static let cleanEnvironment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]

    /// `newSession`: detach the child from our terminal and process group (setsid).
    static func spawn(_ path: String, arguments: [String], streams: StandardStreams, newSession: Bool) throws -> pid_t {
        do {
            return try ChildProcess.spawn(
                path, arguments: arguments, environment: cleanEnvironment, streams: streams, newSession: newSession,
                defaultSignals: SignalForwarding.forwardedSignals)
        } catch let error as SystemError {
            throw VMLifecycleError.spawnFailed(path: path, cause: FailureCause(errno: error.errno))
        }
    }

    /// Waits for `pid` (a child of ours) to end; with `blocking` false returns nil while it runs.
    static func wait(for pid: pid_t, blocking: Bool = true) -> ExitStatus? {
        ChildProcess.wait(for: pid, blocking: blocking)
    }
}
