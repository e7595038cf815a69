#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// Validates a `VMConfiguration` before anything is created, so bad input fails with one clear line
/// and leaves nothing behind.
public enum ConfigurationCheck {
    public static let minimumMemoryBytes: UInt64 = 64 << 20
    public static let maximumVCPUs = 255
    public static let maximumSocketPathBytes = 90
    public static let maximumNetworkInterfaces = 8
    public static let maximumTapNameLength = 15

    /// Reads and decodes the configuration file.
    public static func load(path: String) throws -> VMConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read VM configuration \(path): check that it exists and is readable")
        }
        return try decode(data, path: path)
    }

    /// Decodes a configuration file's bytes; `path` names it in errors.
    public static func decode(_ data: Data, path: String) throws -> VMConfiguration {
        do {
            return try JSONDecoder().decode(VMConfiguration.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw ConfigurationError("invalid VM configuration \(path): missing field \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigurationError("invalid VM configuration \(path): field \"\(field)\" has the wrong type")
        } catch {
            throw ConfigurationError("invalid VM configuration \(path): not valid JSON")
        }
    }

    /// Checks everything that can be checked without building the machine.
    public static func validate(_ configuration: VMConfiguration, hostMemoryBytes: UInt64 = hostMemory()) throws {
        guard !configuration.name.isEmpty else { throw ConfigurationError("VM name is empty: give the VM a name") }
        if let restore = configuration.restore {
            // A VM continuing from a snapshot never loads its kernel again.
            try requireReadable(restore.statePath, what: "snapshot machine state")
            try requireReadable(restore.memoryPath, what: "snapshot memory")
        } else {
            try requireReadable(configuration.kernelPath, what: "kernel")
            if let initrd = configuration.initrdPath { try requireReadable(initrd, what: "initrd") }
        }
        var seen = Set<String>()
        for disk in configuration.disks {
            guard seen.insert(disk.path).inserted else {
                throw ConfigurationError("disk image \(disk.path) is attached twice: attach each image once")
            }
            try requireReadable(disk.path, what: "disk image")
            if !disk.readOnly && disk.overlayPath == nil && access(disk.path, W_OK) != 0 {
                throw ConfigurationError("disk image \(disk.path) is not writable: fix its permissions or attach it read-only")
            }
        }
        try validate(configuration.networkInterfaces)
        let memory = configuration.memoryBytes
        guard memory >= minimumMemoryBytes else {
            throw ConfigurationError("memory of \(describe(memory)) is too small: give the VM at least 64 MiB")
        }
        guard memory <= hostMemoryBytes else {
            throw ConfigurationError("memory of \(describe(memory)) exceeds this host's \(describe(hostMemoryBytes)): give the VM less")
        }
        guard memory % 4096 == 0 else {
            throw ConfigurationError("memory of \(memory) bytes is not a whole number of 4 KiB pages: round it")
        }
        guard (1...maximumVCPUs).contains(configuration.vcpus) else {
            throw ConfigurationError("\(configuration.vcpus) vCPUs is out of range: use 1 to \(maximumVCPUs)")
        }
        if let limit = configuration.snapshotPauseLimitSeconds, !(0.1...3600).contains(limit) {
            throw ConfigurationError("snapshot pause limit of \(limit) s is out of range: use 0.1 to 3600 seconds")
        }
        // sun_path holds 107 bytes; the socket is first bound under the path plus ".<pid>.tmp".
        guard configuration.controlSocketPath.utf8.count <= maximumSocketPathBytes else {
            throw ConfigurationError(
                "control socket path \(configuration.controlSocketPath) is longer than \(maximumSocketPathBytes) bytes: use a shorter home directory"
            )
        }
    }

    /// At most 8 NICs, each on a tap of its own with a well-formed, unicast MAC address of its own.
    public static func validate(_ interfaces: [NetworkInterfaceConfiguration]) throws {
        guard interfaces.count <= maximumNetworkInterfaces else {
            throw ConfigurationError("\(interfaces.count) network interfaces is too many: attach at most \(maximumNetworkInterfaces)")
        }
        var taps = Set<String>()
        var addresses = Set<MACAddress>()
        for interface in interfaces {
            let name = interface.tapName
            guard (1...maximumTapNameLength).contains(name.utf8.count),
                name.utf8.allSatisfy({ isTapNameByte($0) }), name != ".", name != ".."
            else {
                throw ConfigurationError(
                    "tap device name \"\(name)\" is invalid: use 1 to \(maximumTapNameLength) characters of A-Z, a-z, 0-9, _, . and -")
            }
            guard taps.insert(name).inserted else {
                throw ConfigurationError("tap device \(name) is attached twice: give each network interface a tap of its own")
            }
            guard let address = MACAddress(interface.macAddress), address.description == interface.macAddress else {
                throw ConfigurationError(
                    "MAC address \"\(interface.macAddress)\" is invalid: write six lowercase hex pairs separated by colons, like 52:54:00:ab:cd:ef"
                )
            }
            guard address.isUnicast, !address.isZero else {
                throw ConfigurationError(
                    "MAC address \(address) is not a unicast address: use one whose first byte is even, like 52:54:00:ab:cd:ef")
            }
            guard addresses.insert(address).inserted else {
                throw ConfigurationError("MAC address \(address) is used twice: give each network interface its own")
            }
            if let network = interface.network, network.utf8.count > 128 {
                throw ConfigurationError("network name of \(network.utf8.count) bytes is too long: at most 128")
            }
            if let path = interface.networkNamespacePath, !path.hasPrefix("/") || path.utf8.count > 4096 {
                throw ConfigurationError("network namespace path \"\(path)\" is not an absolute path: use /run/netns/NAME")
            }
        }
    }

    private static func isTapNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// Physical memory of this host.
    public static func hostMemory() -> UInt64 {
        UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func requireReadable(_ path: String, what: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigurationError("\(what) \(path) does not exist: check the path")
        }
        guard info.st_mode & S_IFMT == S_IFREG || (what == "disk image" && info.st_mode & S_IFMT == S_IFBLK) else {
            throw ConfigurationError("\(what) \(path) is not a regular file")
        }
        guard access(path, R_OK) == 0 else {
            throw ConfigurationError("\(what) \(path) is not readable: fix its permissions")
        }
    }

    public static func describe(_ bytes: UInt64) -> String {
        if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        return "\(bytes) bytes"
    }
}
