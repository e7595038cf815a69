import AmberSystem
import Glibc

/// Runs one of the host's network tools with a clean argv and environment (never a shell) and gives back what
/// it printed. Its standard streams are memory files, not pipes: a tool that leaves a daemon behind (dnsmasq)
/// can hold them open forever without blocking us, and output is read only after the tool has exited.
struct HostCommand {
    /// Bytes of output read back: `ip -j addr` of a host with many addresses stays far below this.
    static let maximumOutputBytes = 4 << 20
    static let environment = ["PATH=" + HostTool.searchPath.joined(separator: ":"), "LC_ALL=C"]

    struct Output {
        let status: ExitStatus
        let standardOutput: String
        let standardError: String

        var succeeded: Bool { status == .exited(0) }
        /// The first line of what the tool said on stderr (tools put their reason there).
        var message: String {
            standardError.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        }
    }

    /// Runs `tool arguments...` with `input` on its stdin, and returns how it ended; never throws for a tool
    /// that failed (the caller decides whether that is an error).
    static func output(_ tool: HostTool, _ arguments: [String], input: String = "") throws(NetworkError) -> Output {
        let path = try tool.path()
        do {
            let stdin = try MemFD.create(name: "amber-\(tool.rawValue)-in", size: 0)
            var bytes = Array(input.utf8)
            try bytes.withUnsafeMutableBytes { try stdin.write(UnsafeRawBufferPointer($0), at: 0) }
            let stdout = try MemFD.create(name: "amber-\(tool.rawValue)-out", size: 0)
            let stderr = try MemFD.create(name: "amber-\(tool.rawValue)-err", size: 0)
            let pid = try ChildProcess.spawn(
                path, arguments: arguments, environment: environment,
                streams: .init(input: stdin.rawValue, output: stdout.rawValue, error: stderr.rawValue), newSession: true)
            let status = ChildProcess.wait(for: pid) ?? .exited(1)
            return Output(status: status, standardOutput: try text(of: stdout), standardError: try text(of: stderr))
        } catch let error as NetworkError {
            throw error
        } catch {
            throw .commandFailed(command: commandLine(tool, arguments), status: "could not run", message: "\(error)")
        }
    }

    /// Runs `tool arguments...` and returns its stdout; a tool that fails is a `commandFailed` error with its message.
    @discardableResult
    static func run(_ tool: HostTool, _ arguments: [String], input: String = "") throws(NetworkError) -> String {
        let result = try output(tool, arguments, input: input)
        guard result.succeeded else {
            throw .commandFailed(command: commandLine(tool, arguments), status: "\(result.status)", message: result.message)
        }
        return result.standardOutput
    }

    static func commandLine(_ tool: HostTool, _ arguments: [String]) -> String {
        ([tool.rawValue] + arguments).joined(separator: " ")
    }

    private static func text(of file: FileDescriptor) throws -> String {
        let size = min(Int(try file.size()), maximumOutputBytes)
        var bytes = [UInt8](repeating: 0, count: size)
        let read = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return String(decoding: bytes.prefix(read), as: UTF8.self)
    }
}
