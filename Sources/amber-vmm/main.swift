// amber-vmm: one process per VM. `amber-vmm --config FILE` boots the VM FILE describes and serves its
// control socket until the guest stops. Exit status: 0 guest powered off, rebooted or stopped on
// request; 1 guest crashed or the VMM failed; 2 bad configuration.
import AmberControl
import AmberSystem
import AmberVMM
import Glibc

let launched = MonotonicClock.now()
let arguments = VMMArguments.parse(Array(CommandLine.arguments.dropFirst()))
let vmDirectory = arguments.configPath.lastIndex(of: "/").map { String(arguments.configPath[..<$0]) } ?? "."
// Before anything is allocated: memory is charged to the group it is allocated in. Best effort: a host
// whose cgroup file system is read-only (a container) still runs VMs, and the log says so.
let controlGroup: ControlGroup?
do {
    controlGroup = try VMControlGroup.join(vmDirectory: vmDirectory)
} catch {
    controlGroup = nil
    Lifecycle.log("no cgroup for this VM (its memory and CPU are not limited): \(error)")
}
// A restore's VM is built from the command line's copy of its shape while the configuration is read.
let preparedRestore: PendingRestore?
do {
    preparedRestore = try arguments.restore?.start()
} catch {
    Lifecycle.fail("\(error)", status: 2)
}
let configuration: VMConfiguration
do {
    configuration = try ConfigurationCheck.load(path: arguments.configPath)
    try ConfigurationCheck.validate(configuration)
} catch {
    Lifecycle.fail("\(error)", status: 2)
}

// Held for the process's lifetime: a second amber-vmm for the same VM fails here.
let configLock: FileLock
do {
    configLock = try FileLock(exclusive: arguments.configPath)
} catch FileLock.Failure.alreadyLocked {
    Lifecycle.fail("VM \(configuration.name) is already running", status: 2)
} catch {
    Lifecycle.fail("cannot lock \(arguments.configPath): \(error)", status: 2)
}

if let controlGroup {
    do {
        Lifecycle.log(
            "VM \(configuration.name) limited: \(try VMControlGroup.limit(controlGroup, memoryBytes: configuration.memoryBytes, vcpus: configuration.vcpus))"
        )
    } catch {
        Lifecycle.log("VM \(configuration.name): its cgroup's limits cannot be set (its memory and CPU are not limited): \(error)")
    }
}

Signals.ignoreBrokenPipes()
let stopRequests = StopRequests()
do {
    _ = try Signals.handleOnThread([SIGTERM, SIGINT, SIGHUP]) { signal in stopRequests.deliver(signal) }
} catch {
    Lifecycle.fail("cannot set up signal handling: \(error)", status: 1)
}

let console: ConsoleEndpoint
do {
    console = try ConsoleEndpoint(logPath: configuration.consoleLogPath)
} catch {
    Lifecycle.fail("\(error)", status: 2)
}

let host: VMMHost
do {
    host = try VMMHost(
        configuration: configuration, consoleOutput: console.output, log: Lifecycle.log,
        preparedRestore: preparedRestore)
} catch let error as ConfigurationError {
    Lifecycle.fail(error.description, status: 2)
} catch {
    Lifecycle.fail("cannot start VM \(configuration.name): \(error)", status: 1)
}
stopRequests.target = host
do {
    try host.openControlSocket()
    let confinement = try Confinement.enter(vmDirectory: vmDirectory.isEmpty ? "/" : vmDirectory)
    try SystemCallFilter.confineProcess()
    host.machine.confinesVCPUThreads = true
    host.confineDeviceWorkers()
    Lifecycle.log("VM \(configuration.name) confined: \(confinement), seccomp filters on every thread and a narrower one on vCPU threads")
    if arguments.seccompSelfTest == .controlIoctl { SystemCallFilter.makeForbiddenIoctl() }
} catch {
    Lifecycle.fail("cannot confine VM \(configuration.name): \(error)", status: 1)
}
// How long a start or restore takes, for `amber` users and the benchmarks (scripts/bench-vmm, bench-restore).
host.machine.firstRunObserver = { vcpu in
    guard vcpu == 0 else { return }
    let milliseconds = VMMHost.tenths((MonotonicClock.now() - launched) * 1000)
    Lifecycle.log("first KVM_RUN at \(Lifecycle.realtimeNanoseconds()) ns (CLOCK_REALTIME), \(milliseconds) ms after amber-vmm started")
    if arguments.exitAfterFirstRun { host.machine.stop(.stopped) }
    if arguments.seccompSelfTest == .vcpuSystemCall { SystemCallFilter.makeForbiddenCall() }
}
console.startInput { host.typeIntoConsole($0) }

let machineExit: MachineExit
do {
    machineExit = try host.run()
} catch {
    console.restore()
    Lifecycle.fail("VM \(configuration.name) failed: \(error)", status: 1)
}
console.restore()
Lifecycle.log("VM \(configuration.name): \(machineExit)")
withExtendedLifetime(configLock) {}
Glibc.exit(machineExit.exitStatus)
