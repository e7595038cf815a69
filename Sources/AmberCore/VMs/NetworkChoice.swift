import Foundation

/// What `amber run --net` asks for.
public enum NetworkChoice: Equatable, Sendable, CustomStringConvertible {
    /// No NIC.
    case none
    /// One of Amber's networks: `default` and `isolated` are made on first use, others with `amber network create`.
    case network(String)
    /// A bridge the user runs (`bridge:NAME`): Amber adds only the tap.
    case bridge(String)

    public static let bridgePrefix = "bridge:"

    /// Parses `none`, `default`, `isolated`, `bridge:NAME` or a network's name (checked when attached).
    public static func parse(_ text: String) throws -> NetworkChoice {
        if text == "none" { return .none }
        if text.hasPrefix(bridgePrefix) {
            let bridge = String(text.dropFirst(bridgePrefix.count))
            guard !bridge.isEmpty else { throw VMRequestError.badNetworkChoice(text) }
            return .bridge(bridge)
        }
        guard !text.isEmpty, !text.contains(":") else { throw VMRequestError.badNetworkChoice(text) }
        return .network(text)
    }

    /// `--net`'s default: `$AMBER_NET` when set (the test suites set `none`: they must not change the host's
    /// network), otherwise Amber's `default` network, as a user expects from `docker run` or libvirt.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NetworkChoice {
        guard let text = environment["AMBER_NET"], !text.isEmpty else { return .network("default") }
        return try parse(text)
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .network(let name): return name
        case .bridge(let bridge): return Self.bridgePrefix + bridge
        }
    }
}
