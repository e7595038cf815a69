import ArgumentParser

/// `amber clone` is the command whose start-up users wait on (a warm clone has a 20 ms budget from command start
/// to the guest running), and ArgumentParser spends ~2.5 ms of it before any command runs: building the command
/// tree and its argument sets looks up generic type metadata and protocol conformances, each first lookup a scan
/// of every conformance record in this large static binary. The plain spellings of `clone` are therefore parsed
/// here, from the same table the `Clone` definition takes its option names from: one grammar, two readers. Anything
/// the table does not cover (help, `--name=X`, a repeated option, a mistake) goes through ArgumentParser.
extension Clone {
    /// Where an option's value goes; its kind follows from the type of the property it sets. Setters, not key
    /// paths: writing through a key path reads the property first, and ArgumentParser traps on reading one that was
    /// never decoded.
    enum Field {
        case value(@Sendable (inout Clone, String) -> Void)
        case optionalValue(@Sendable (inout Clone, String?) -> Void)
        case flag(@Sendable (inout Clone, Bool) -> Void)
    }

    /// Every option of `clone`, `HomeOption`'s included, by its long name.
    static let options: [(long: String, field: Field)] = [
        (OptionName.name, .value { $0.name = $1 }), (OptionName.detach, .flag { $0.detach = $1 }),
        (OptionName.json, .flag { $0.json = $1 }), (HomeOption.OptionName.home, .optionalValue { $0.home.home = $1 }),
        (HomeOption.OptionName.keyFile, .optionalValue { $0.home.keyFile = $1 }),
    ]

    /// `clone SNAPSHOT` and each option of `options` at most once, in any order; nil for anything else.
    static func plainInvocation(_ arguments: [String]) -> Clone? {
        guard arguments.first == "clone" else { return nil }
        var clone = Clone()
        clone.home = HomeOption()
        var id: String?
        var given = Set<String>()
        var rest = arguments.dropFirst()
        // Every option must be assigned, given or not: ArgumentParser traps on reading one that was never decoded.
        for (_, field) in options {
            switch field {
            case .value: break
            case .optionalValue(let set): set(&clone, nil)
            case .flag(let set): set(&clone, false)
            }
        }
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else {
                guard id == nil, !argument.hasPrefix("-") else { return nil }
                id = argument
                continue
            }
            guard let (long, field) = options.first(where: { "--" + $0.long == argument }), given.insert(long).inserted else {
                return nil
            }
            switch field {
            case .flag(let set):
                set(&clone, true)
            case .value(let set):
                guard let value = rest.popFirst(), !value.hasPrefix("-") else { return nil }
                set(&clone, value)
            case .optionalValue(let set):
                guard let value = rest.popFirst(), !value.hasPrefix("-") else { return nil }
                set(&clone, value)
            }
        }
        // The required ones: the snapshot, and every non-optional value.
        guard let id else { return nil }
        for (long, field) in options {
            if case .value = field, !given.contains(long) { return nil }
        }
        clone.id = id
        return clone
    }
}
