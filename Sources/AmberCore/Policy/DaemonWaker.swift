import AmberSystem
import Foundation
import Glibc
import Synchronization

/// Where amberd sleeps between jobs: until the next scheduled instant, a change in the policy directory
/// (inotify) or a stop request (SIGTERM/SIGINT, delivered through an eventfd), whichever comes first.
/// Nothing polls: the process is blocked in poll(2) the whole time.
public final class DaemonWaker: Sendable {
    public enum Reason: Equatable { case timeout, policiesChanged, stop }

    private let stopEvent: EventFD
    /// Set once, by `watch(directory:)` before the daemon first waits.
    private let watchDescriptor = Mutex<FileDescriptor?>(nil)
    private let stopped = Atomic(false)

    public init() throws {
        stopEvent = try EventFD(nonBlocking: true)
    }

    /// Safe from any thread (the signal thread calls it).
    public func requestStop() {
        try? stopEvent.signal()
    }

    /// Watches `directory` for files written, renamed, moved or deleted (an editor's save is a write or a rename).
    /// Without inotify the daemon still re-reads the directory at each wake-up.
    public func watch(directory: String) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB)
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            close(fd)
            return
        }
        watchDescriptor.withLock { $0 = FileDescriptor(owning: fd) }
    }

    /// True once a stop was requested (checked between jobs, so no new job starts after SIGTERM).
    public var stopRequested: Bool {
        if stopped.load(ordering: .relaxed) { return true }
        var fds = [pollfd(fd: stopEvent.descriptor.rawValue, events: Int16(POLLIN), revents: 0)]
        if poll(&fds, 1, 0) > 0 { stopped.store(true, ordering: .relaxed) }
        return stopped.load(ordering: .relaxed)
    }

    /// Sleeps until `deadline` (nil: no deadline) or an event. Never returns `.timeout` early.
    public func wait(until deadline: Date?) -> Reason {
        while true {
            if stopRequested { return .stop }
            var timeout: Int32 = -1
            if let deadline {
                let milliseconds = (deadline.timeIntervalSinceNow * 1000).rounded(.up)
                if milliseconds <= 0 { return .timeout }
                timeout = Int32(min(milliseconds, Double(Int32.max)))
            }
            let watch = watchDescriptor.withLock { $0 }
            var fds = [pollfd(fd: stopEvent.descriptor.rawValue, events: Int16(POLLIN), revents: 0)]
            if let watch { fds.append(pollfd(fd: watch.rawValue, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                return .timeout
            }
            if fds[0].revents != 0 {
                stopped.store(true, ordering: .relaxed)
                return .stop
            }
            if fds.count > 1, fds[1].revents != 0 {
                if let watch { drain(watch) }
                return .policiesChanged
            }
            if let deadline, deadline.timeIntervalSinceNow > 0 { continue }
            return .timeout
        }
    }

    private func drain(_ watch: FileDescriptor) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ Glibc.read(watch.rawValue, $0.baseAddress, $0.count) }) > 0 {}
        // If the directory itself went away the watch is dead; the daemon keeps re-reading at each wake-up.
    }
}
