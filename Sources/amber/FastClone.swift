import ArgumentParser

/// `amber clone` is the command whose start-up users wait on (a warm clone has a 20 ms budget from
/// command start to the guest running), and ArgumentParser spends ~2.5 ms of it before any command
/// runs: building the command tree and its argument sets looks up generic type metadata and
/// protocol conformances, each first lookup a scan of every conformance record in this large static
/// binary. The plain spellings of `clone` are therefore parsed here by hand; everything else (help,
/// `--name=X`, mistakes) goes through ArgumentParser exactly as before.
extension Clone {
    /// `clone ID --name NAME [--detach] [--json] [--home DIR] [--key-file FILE]`, options in any order and each once;
    /// nil for anything else.
    static func plainInvocation(_ arguments: [String]) -> Clone? {
        guard arguments.first == "clone" else { return nil }
        var id: String?, name: String?, home: String?, keyFile: String?
        var detach = false, json = false
        var rest = arguments.dropFirst()
        func value(_ current: String?) -> String? {
            guard current == nil, let value = rest.popFirst(), !value.hasPrefix("-") else { return nil }
            return value
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--name":
                guard let given = value(name) else { return nil }
                name = given
            case "--home":
                guard let given = value(home) else { return nil }
                home = given
            case "--key-file":
                guard let given = value(keyFile) else { return nil }
                keyFile = given
            case "--detach":
                guard !detach else { return nil }
                detach = true
            case "--json":
                guard !json else { return nil }
                json = true
            default:
                guard id == nil, !argument.hasPrefix("-") else { return nil }
                id = argument
            }
        }
        guard let id, let name else { return nil }
        var homeOption = HomeOption()
        homeOption.home = home
        // Every option of the group must be set: ArgumentParser traps on reading one that was never decoded.
        homeOption.keyFile = keyFile
        var clone = Clone()
        clone.home = homeOption
        clone.id = id
        clone.name = name
        clone.detach = detach
        clone.json = json
        return clone
    }
}
