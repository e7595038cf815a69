#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AmberControl

/// A VM's `config.json` as amber-vmm reads it at start: decoded by `ConfigurationCheck`, then checked by
/// it. The check stats the paths the file names, so inputs only ever look at this host's files.
enum VMConfigurationFuzzTarget {
    /// A fixed host size, so whether an input passes does not depend on the machine replaying it.
    static let hostMemoryBytes: UInt64 = 8 << 30

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        let configuration: VMConfiguration
        do {
            configuration = try ConfigurationCheck.decode(Data(bytes), path: "config.json")
            try ConfigurationCheck.validate(configuration, hostMemoryBytes: hostMemoryBytes)
        } catch {
            try requireOneLine(error, from: "the configuration check")
            return
        }
        try require(!configuration.name.isEmpty, "a VM without a name accepted")
        try require(
            (ConfigurationCheck.minimumMemoryBytes...hostMemoryBytes).contains(configuration.memoryBytes)
                && configuration.memoryBytes % 4096 == 0, "memory of \(configuration.memoryBytes) bytes accepted")
        try require((1...ConfigurationCheck.maximumVCPUs).contains(configuration.vcpus), "\(configuration.vcpus) vCPUs accepted")
        try require(
            configuration.controlSocketPath.utf8.count <= ConfigurationCheck.maximumSocketPathBytes,
            "a socket path too long for sun_path accepted")
        try require(Set(configuration.disks.map(\.path)).count == configuration.disks.count, "a disk attached twice accepted")
        let interfaces = configuration.networkInterfaces
        try require(interfaces.count <= ConfigurationCheck.maximumNetworkInterfaces, "\(interfaces.count) NICs accepted")
        for interface in interfaces {
            try require(
                (1...ConfigurationCheck.maximumTapNameLength).contains(interface.tapName.utf8.count),
                "tap name \(interface.tapName) accepted")
            let address = MACAddress(interface.macAddress)
            try require(address?.isUnicast == true && address?.description == interface.macAddress, "MAC \(interface.macAddress) accepted")
        }
        try require(Set(interfaces.map(\.tapName)).count == interfaces.count, "a tap attached twice accepted")

        let again = try JSONDecoder().decode(VMConfiguration.self, from: try JSONEncoder().encode(configuration))
        try require(again == configuration, "a configuration, encoded and decoded again, differs")
    }
}
