import AmberVMM
import Glibc

/// amber-vmm's command line. It is started by `amber`, not typed by people, so it stays minimal.
struct VMMArguments {
    var configPath: String
    /// A restore's memory file, size and vCPU count, also in the configuration: given here, amber-vmm
    /// starts building the VM before it reads the configuration (see `RestorePreparation`).
    var restore: RestorePreparation?
    /// Benchmark aid: stop the VM as soon as vCPU 0 is about to enter KVM_RUN for the first time,
    /// after logging the time (see scripts/bench-vmm).
    var exitAfterFirstRun = false
    /// Diagnostic: a call the seccomp filters forbid, so the filters' kill and log can be seen (and tested)
    /// without a compromised guest: `--seccomp-self-test` has vCPU 0 call mount(2) just before its first
    /// KVM_RUN; `--seccomp-self-test-ioctl` has the main thread (a control thread) ask KVM for a new VM.
    var seccompSelfTest: SeccompSelfTest?

    enum SeccompSelfTest { case vcpuSystemCall, controlIoctl }

    static let usage =
        "usage: amber-vmm --config FILE [--restore-memory FILE --restore-bytes N --restore-vcpus N] [--exit-after-first-run] [--seccomp-self-test | --seccomp-self-test-ioctl]"

    static func parse(_ arguments: [String]) -> VMMArguments {
        var configPath: String?
        var memoryPath: String?
        var memoryBytes: UInt64?
        var vcpus: Int?
        var exitAfterFirstRun = false
        var seccompSelfTest: SeccompSelfTest?
        var remaining = arguments[...]
        func value(of option: String) -> String {
            guard let value = remaining.popFirst() else { Lifecycle.fail("\(option) needs a value: \(usage)", status: 2) }
            return value
        }
        while let argument = remaining.popFirst() {
            switch argument {
            case "--config":
                configPath = value(of: argument)
            case "--restore-memory":
                memoryPath = value(of: argument)
            case "--restore-bytes":
                guard let bytes = UInt64(value(of: argument)) else { Lifecycle.fail("--restore-bytes needs a number: \(usage)", status: 2) }
                memoryBytes = bytes
            case "--restore-vcpus":
                guard let count = Int(value(of: argument)) else { Lifecycle.fail("--restore-vcpus needs a number: \(usage)", status: 2) }
                vcpus = count
            case "--exit-after-first-run":
                exitAfterFirstRun = true
            case "--seccomp-self-test":
                seccompSelfTest = .vcpuSystemCall
            case "--seccomp-self-test-ioctl":
                seccompSelfTest = .controlIoctl
            case "--help", "-h":
                print(usage)
                exit(0)
            default:
                Lifecycle.fail("unknown argument \(argument): \(usage)", status: 2)
            }
        }
        guard let configPath else { Lifecycle.fail("no configuration given: \(usage)", status: 2) }
        var restore: RestorePreparation?
        switch (memoryPath, memoryBytes, vcpus) {
        case (nil, nil, nil):
            restore = nil
        case (let path?, let bytes?, let count?):
            restore = RestorePreparation(memoryPath: path, memoryBytes: bytes, vcpus: count)
        default:
            Lifecycle.fail("--restore-memory, --restore-bytes and --restore-vcpus go together: \(usage)", status: 2)
        }
        return VMMArguments(
            configPath: configPath, restore: restore, exitAfterFirstRun: exitAfterFirstRun,
            seccompSelfTest: seccompSelfTest)
    }
}
