import Glibc

/// amber-vmm's command line. It is started by `amber`, not typed by people, so it stays minimal.
struct VMMArguments {
    var configPath: String
    /// Benchmark aid: stop the VM as soon as vCPU 0 is about to enter KVM_RUN for the first time,
    /// after logging the time (see scripts/bench-vmm).
    var exitAfterFirstRun = false

    static let usage = "usage: amber-vmm --config FILE [--exit-after-first-run]"

    static func parse(_ arguments: [String]) -> VMMArguments {
        var configPath: String?
        var exitAfterFirstRun = false
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            switch argument {
            case "--config":
                guard let path = remaining.popFirst() else { Lifecycle.fail("--config needs a file: \(usage)", status: 2) }
                configPath = path
            case "--exit-after-first-run":
                exitAfterFirstRun = true
            case "--help", "-h":
                print(usage)
                exit(0)
            default:
                Lifecycle.fail("unknown argument \(argument): \(usage)", status: 2)
            }
        }
        guard let configPath else { Lifecycle.fail("no configuration given: \(usage)", status: 2) }
        return VMMArguments(configPath: configPath, exitAfterFirstRun: exitAfterFirstRun)
    }
}
