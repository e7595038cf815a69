import Foundation
import Glibc

/// Starts a program with posix_spawn: a clean argv (never a shell), a given environment, chosen standard
/// descriptors and no other inherited descriptor. Foundation's Process is not used because it puts the child
/// in a process group of its own (a foreground amber-vmm then cannot read the terminal), cannot start a new
/// session (a detached one must not keep the terminal) and does not let us choose its descriptors.
public enum ChildProcess {
    /// <spawn.h> defines POSIX_SPAWN_SETSID only under _GNU_SOURCE, which Glibc's Swift module lacks;
    /// this is its value in glibc (2.26 and later).
    private static let spawnSetsid: Int32 = 0x80

    /// Descriptors to install as the child's stdin, stdout and stderr; nil keeps ours.
    public struct StandardStreams: Sendable {
        public var input: Int32?
        public var output: Int32?
        public var error: Int32?

        public init(input: Int32? = nil, output: Int32? = nil, error: Int32? = nil) {
            self.input = input
            self.output = output
            self.error = error
        }
    }

    /// Spawns `path` with `arguments` (argv[0] is `path`). `newSession`: detach the child from our terminal and
    /// process group (setsid). `defaultSignals` are reset to their default action in the child; its signal mask
    /// is empty. Throws the spawn's errno as a `SystemError`.
    public static func spawn(
        _ path: String, arguments: [String], environment: [String], streams: StandardStreams, newSession: Bool,
        defaultSignals: [Int32] = []
    ) throws -> pid_t {
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
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in defaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF) | (newSession ? spawnSetsid : 0)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environ: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { environ.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw SystemError("posix_spawn \(path)", errno: result) }
        return pid
    }

    /// The child gets stdin, stdout and stderr only. Descriptors this process inherited or opened would
    /// otherwise live on in a detached child (a held lock, a parent's pipe that signals our exit). posix_spawn's
    /// closefrom action is not visible to Swift, so the descriptors are marked close-on-exec here.
    private static func closeInheritedDescriptorsOnExec() {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Waits for `pid` (a child of ours) to end; with `blocking` false returns nil while it runs.
    public static func wait(for pid: pid_t, blocking: Bool = true) -> ExitStatus? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == pid { return ExitStatus(waitStatus: status) }
            if result == 0 { return nil }
            if errno != EINTR { return nil }
        }
    }
}
