import AmberSystem

/// What can go wrong with Amber's networks: one line naming the thing and what to do.
public enum NetworkError: CausedError, CustomStringConvertible, Equatable {
    case badName(String)
    case badSubnet(String, reason: String)
    case badPublish(String)
    case badMAC(String)
    case bridgeNameTooLong(String, network: String)
    case badBridgeName(String)
    case unknownNetwork(String)
    case nameTaken(String)
    case subnetOverlapsNetwork(IPv4Subnet, network: String, subnet: IPv4Subnet)
    case subnetOverlapsHost(IPv4Subnet, what: String)
    case linkExists(String)
    case inUse(network: String, vm: String)
    case needsNetworkAdmin(operation: String)
    case toolMissing(tool: String, package: String)
    case commandFailed(command: String, status: String, message: String)
    case dnsmasqFailed(network: String, message: String)
    case noFreeSubnet(tried: String)
    case addressesExhausted(network: String, subnet: IPv4Subnet)
    case portTaken(PublishedPort, by: String)
    case publishOnIsolated(network: String)
    case notAttached(vm: String)
    case unknownBridge(String)
    case damaged(path: String, reason: String)
    case io(path: String, cause: FailureCause)

    /// One line, whatever a name or a damaged file held: control characters are shown as `?`.
    public var description: String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }

    private var text: String {
        switch self {
        case .badName(let name):
            return "bad network name \"\(name)\": use a lowercase letter, then lowercase letters, digits and -, at most 32 characters"
        case .badSubnet(let text, let reason):
            return "bad subnet \(text): \(reason)"
        case .badPublish(let text):
            return "bad --publish \(text): use HOST:GUEST, HOST:GUEST/tcp or HOST:GUEST/udp with ports 1-65535"
        case .badMAC(let text):
            return "bad MAC address \(text): use six hex pairs like 52:54:00:12:34:56"
        case .bridgeNameTooLong(let bridge, let network):
            return
                "bridge name \(bridge) is longer than 15 characters (Linux's limit): give network \(network) a shorter name or a bridge with --bridge NAME"
        case .badBridgeName(let bridge):
            return "bad bridge name \"\(bridge)\": use 1-15 printable characters without /, : or spaces"
        case .unknownNetwork(let name):
            return "no network named \(name) (see `amber network ls`)"
        case .nameTaken(let name):
            return "a network named \(name) already exists: pick another name, or remove it with `amber network rm \(name)`"
        case .subnetOverlapsNetwork(let subnet, let network, let other):
            return "subnet \(subnet) overlaps \(other) of network \(network): pick a subnet no network uses (see `amber network ls`)"
        case .subnetOverlapsHost(let subnet, let what):
            return "subnet \(subnet) overlaps \(what) on this host: pick another subnet"
        case .linkExists(let link):
            return "a network interface named \(link) already exists on this host: pick another name with --bridge NAME"
        case .inUse(let network, let vm):
            return "network \(network) is in use by VM \(vm): remove or stop it first"
        case .needsNetworkAdmin(let operation):
            return
                "\(operation) needs CAP_NET_ADMIN: run amber as root, or run the VM without a network (`--net none`)"
        case .toolMissing(let tool, let package):
            return "\(tool) not found (Debian package \(package)): install it, e.g. with scripts/install-deps"
        case .commandFailed(let command, let status, let message):
            return "`\(command)` \(status)" + (message.isEmpty ? "" : ": \(message)")
        case .dnsmasqFailed(let network, let message):
            return "dnsmasq for network \(network) did not start: \(message)"
        case .noFreeSubnet(let tried):
            return "no free subnet for the default network (tried \(tried)): create it with `amber network create default --subnet CIDR`"
        case .addressesExhausted(let network, let subnet):
            return "network \(network) has no free address left in \(subnet): remove a VM or use a bigger subnet"
        case .portTaken(let port, let owner):
            return "host port \(port.hostPort)/\(port.transport.rawValue) is taken by \(owner): publish another host port"
        case .publishOnIsolated(let network):
            return "network \(network) is isolated, so no port can be published to it: use a nat network"
        case .unknownBridge(let bridge):
            return "no bridge named \(bridge) on this host: create it first, or use an Amber network (`--net default`)"
        case .notAttached(let vm):
            return "VM \(vm) is not attached to any network"
        case .damaged(let path, let reason):
            return "\(path) is damaged (\(reason)): fix or remove it"
        case .io(let path, let cause):
            return "cannot write \(path): \(cause)"
        }
    }

    public var cause: FailureCause? {
        if case .io(_, let cause) = self { return cause }
        return nil
    }

    /// Bad input on the command line (sysexits' EX_USAGE): an unknown network, a malformed name, subnet, port or
    /// MAC. Everything else is refused (the state does not allow it) or a failure.
    public var isUsageError: Bool {
        switch self {
        case .badName, .badSubnet, .badPublish, .badMAC, .bridgeNameTooLong, .badBridgeName, .unknownNetwork, .unknownBridge: return true
        default: return false
        }
    }

    /// A failure of the host's tools or files, not a refusal.
    public var isFailure: Bool {
        switch self {
        case .commandFailed, .dnsmasqFailed, .damaged, .io: return true
        default: return false
        }
    }
}
