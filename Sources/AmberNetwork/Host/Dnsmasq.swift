import Foundation
import Glibc

/// The network's dnsmasq: one daemon per network, its files in the network's directory, its pid in the pid file.
enum Dnsmasq {
    /// Starts dnsmasq for `network`. dnsmasq daemonizes itself and its first process exits only once the daemon
    /// has bound its sockets (or with the reason it could not), so success here means DHCP and DNS answer.
    static func start(_ network: NetworkDefinition, files: NetworkFiles) throws(NetworkError) {
        try JSONFile.writeText(DnsmasqConfiguration(network: network, files: files).text, to: files.dnsmasqConfiguration)
        if !FileManager.default.fileExists(atPath: files.dhcpHosts) { try JSONFile.writeText("", to: files.dhcpHosts) }
        let result = try HostCommand.output(.dnsmasq, ["--conf-file=\(files.dnsmasqConfiguration)"])
        guard result.succeeded else {
            throw .dnsmasqFailed(network: network.name, message: result.message.isEmpty ? "\(result.status)" : result.message)
        }
        // dnsmasq made these with its umask: owner-only like everything in the home.
        chmod(files.pid, 0o600)
        chmod(files.leases, 0o600)
    }

    /// The daemon's pid, if the pid file names a live dnsmasq (a stale file of a dnsmasq that died, its pid taken
    /// by another process since, names none).
    static func runningPID(files: NetworkFiles) -> pid_t? {
        guard let text = try? String(contentsOfFile: files.pid, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            let command = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
            command.trimmingCharacters(in: .newlines) == "dnsmasq",
            commandLineNames(pid, configuration: files.dnsmasqConfiguration)
        else { return nil }
        return pid
    }

    /// Whether `pid` was started with our configuration file (the pid file alone could name another network's).
    private static func commandLineNames(_ pid: pid_t, configuration: String) -> Bool {
        guard let bytes = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return bytes.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "--conf-file=\(configuration)" }
    }

    /// Tells dnsmasq to read the hosts file again (SIGHUP), after a NIC was attached or detached.
    static func reload(files: NetworkFiles) {
        if let pid = runningPID(files: files) { kill(pid, SIGHUP) }
    }

    /// Stops the daemon and waits (up to 5 s, then SIGKILL) until it is gone, so its sockets are free.
    static func stop(files: NetworkFiles) {
        guard let pid = runningPID(files: files) else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while isAlive(pid), Date() < deadline { usleep(10_000) }
        if isAlive(pid) {
            kill(pid, SIGKILL)
            let killDeadline = Date().addingTimeInterval(5)
            while isAlive(pid), Date() < killDeadline { usleep(10_000) }
        }
        unlink(files.pid)
    }

    /// Whether `pid` runs: a daemon is not our child, so once dead it may linger as a zombie until its parent
    /// (init) reaps it; that counts as gone.
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: end)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }
}
