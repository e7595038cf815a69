import CSystem
import Glibc
import Synchronization

/// A child process that holds this process's private memory as it is at the moment of `init`: a
/// fork, whose pages the kernel shares copy-on-write with ours, so everything written here afterwards
/// (by the guest, say) gets a new page while the child keeps the old one. Others read the held
/// memory through `/proc/<pid>/mem` at the addresses it has here. Shared mappings are not held
/// (both processes see the same pages). The child does nothing but wait to be killed; it dies with
/// the thread that made it too.
public final class MemoryHolder: Sendable {
    public let pid: pid_t
    private let ended = Atomic(false)

    /// Forking copies page tables, not pages: 15-19 ms for a process with 512 MiB of written memory
    /// on this project's machines.
    public init() throws {
        let pid = csystem_fork_memory_holder()
        guard pid > 0 else { throw SystemError("fork a process to hold guest memory for a snapshot") }
        self.pid = pid
    }

    /// Where others read the held memory.
    public var memoryPath: String { "/proc/\(pid)/mem" }
    /// Which of the held pages are mapped (present or swapped), 8 bytes per page (proc(5) pagemap).
    public var pagemapPath: String { "/proc/\(pid)/pagemap" }

    /// Kills and reaps the child; its copies of pages written since then go back to the system.
    public func end() {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    deinit {
        end()
    }
}
