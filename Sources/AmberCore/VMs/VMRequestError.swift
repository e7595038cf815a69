import AmberPolicy
import AmberSystem

/// Bad input to `amber run`, found before anything is written or started.
public enum VMRequestError: CausedError, CustomStringConvertible, Equatable {
    case invalidName(String)
    case notASize(option: String, text: String)
    case memoryTooSmall(text: String, minimum: UInt64)
    case memoryNotPageAligned(text: String)
    case memoryMoreThanHost(text: String, host: UInt64)
    case invalidVCPUs(Int, maximum: Int)
    case missingFile(role: String, path: String)
    case unreadableFile(role: String, path: String, cause: FailureCause)
    case notBzImage(path: String)
    case notAFile(role: String, path: String)
    case socketPathTooLong(path: String, maximum: Int)
    case badNetworkChoice(String)
    case badMAC(String)
    case publishWithoutNetwork(NetworkChoice)

    public var description: String {
        switch self {
        case .invalidName(let name):
            return
                "invalid VM name '\(name)': use 1-\(VMName.maximumLength) characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
        case .notASize(let option, let text):
            return "\(option) '\(text)' is not a size: use \(ByteSize.acceptedForms)"
        case .memoryTooSmall(let text, let minimum):
            return "--memory \(text) is too small: a VM needs at least \(ByteFormat.string(minimum))"
        case .memoryNotPageAligned(let text):
            return "--memory \(text) is not a whole number of 4 KiB pages: use e.g. 512M"
        case .memoryMoreThanHost(let text, let host):
            return "--memory \(text) is more than this host's RAM (\(ByteFormat.string(host))): choose a smaller size"
        case .invalidVCPUs(let count, let maximum):
            return "--vcpus \(count) is out of range: use 1 to \(maximum)"
        case .missingFile(let role, let path):
            return "\(role) \(path) does not exist"
        case .unreadableFile(let role, let path, let cause):
            return "\(role) \(path) cannot be opened: \(cause)"
        case .notBzImage(let path):
            return "kernel \(path) is not a bzImage (no \"HdrS\" boot header at offset 0x202): pass a Linux bzImage/vmlinuz"
        case .notAFile(let role, let path):
            return "\(role) \(path) is not a regular file or block device"
        case .socketPathTooLong(let path, let maximum):
            return "control socket path \(path) is longer than \(maximum) bytes: use a shorter --home or VM name"
        case .badNetworkChoice(let text):
            return "bad --net \"\(text)\": use none, default, isolated, bridge:NAME or the name of a network (`amber network ls`)"
        case .badMAC(let text):
            return "bad --mac \"\(text)\": use six hex pairs of a unicast address, like 52:54:00:12:34:56"
        case .publishWithoutNetwork(let choice):
            return "--publish needs one of Amber's networks, not --net \(choice): ports are published by Amber's firewall rules"
        }
    }
}

extension VMRequestError {
    /// The errno of a file that could not be opened.
    public var cause: FailureCause? {
        if case .unreadableFile(_, _, let cause) = self { return cause }
        return nil
    }
}
