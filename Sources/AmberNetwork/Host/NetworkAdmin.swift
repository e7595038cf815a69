import Foundation

/// Whether this process may change the host's network: CAP_NET_ADMIN in its effective set (root has it; so
/// does a process given the capability alone).
public enum NetworkAdmin {
    static let capabilityBit: UInt64 = 1 << 12

    public static var isPermitted: Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & capabilityBit != 0
    }

    /// Throws `needsNetworkAdmin` naming `operation` unless the process may change the network.
    static func require(_ operation: String) throws(NetworkError) {
        guard isPermitted else { throw .needsNetworkAdmin(operation: operation) }
    }
}
