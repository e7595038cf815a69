import AmberSystem
import Foundation
import Glibc

/// Starts amber-vmm with posix_spawn. Foundation's Process is not used because it puts the child in
/// a process group of its own (a foreground amber-vmm then cannot read the terminal), cannot start a
/// new session (a detached one must not keep the terminal) and does not let us choose its descriptors.
enum ProcessSpawner {
    /// <spawn.h> defines POSIX_SPAWN_SETSID only under _GNU_SOURCE, which Glibc's Swift module lacks;
    /// this is its value in glibc (2.26 and later).
    private static let spawnSetsid: Int32 = 0x80

    /// Descriptors to install as the child's stdin, stdout and stderr; nil keeps ours.
    struct StandardStreams {
        var input: Int32?
        var output: Int32?
        var error: Int32?
    }

    /// amber-vmm reads no environment variable: it gets none of the caller's (secrets, LD_* and the like
    /// stay out of the process the guest can reach), only a fixed PATH.
    static let cleanEnvironment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]

    /// `newSession`: detach the child from our terminal and process group (setsid).
    static func spawn(_ path: String, arguments: [String], streams: StandardStreams, newSession: Bool) throws -> pid_t {
        closeInheritedDescriptorsOnExec()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (source, target) in [(streams.input, 0), (streams.output, 1), (streams.error, 2)] {
            if let source { posix_spawn_file_actions_adddup2(&actions, source, Int32(target)) }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in SignalForwarding.forwardedSignals { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        let flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF) | (newSession ? spawnSetsid : 0)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment: [UnsafeMutablePointer<CChar>?] = cleanEnvironment.map { strdup($0) } + [nil]
        defer { environment.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
        guard result == 0 else {
            throw VMLifecycleError.spawnFailed(path: path, cause: FailureCause(errno: result))
        }
        return pid
    }

    /// amber-vmm gets stdin, stdout and stderr only. Descriptors `amber` itself inherited would
    /// otherwise live on in a detached amber-vmm: a parent that watches one of them to learn that
    /// `amber` exited (Foundation's Process does, with a socket) would wait for the VM instead.
    /// posix_spawn's closefrom action is not visible to Swift, so the descriptors are marked here.
    private static func closeInheritedDescriptorsOnExec() {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Waits for `pid` (a child of ours) to end; with `blocking` false returns nil while it runs.
    static func wait(for pid: pid_t, blocking: Bool = true) -> ExitStatus? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == pid { return ExitStatus(waitStatus: status) }
            if result == 0 { return nil }
            if errno != EINTR { return nil }
        }
    }
}
