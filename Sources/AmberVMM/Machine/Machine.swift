import AmberBoot
import AmberKVM
import AmberSystem
import CKVM

/// What a machine is made of before anything is loaded into it.
public struct MachineConfiguration: Sendable {
    public var name: String
    public var memoryBytes: UInt64
    public var vcpuCount: Int
    /// Receives every byte the guest writes to its serial port, on the vCPU thread that wrote it.
    public var serialOutput: @Sendable ([UInt8]) -> Void

    public init(
        name: String, memoryBytes: UInt64, vcpuCount: Int,
        serialOutput: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.name = name
        self.memoryBytes = memoryBytes
        self.vcpuCount = vcpuCount
        self.serialOutput = serialOutput
    }
}

/// A device whose background work (a virtio queue worker) must stop while the machine is paused.
public protocol PausableDevice: AnyObject {
    func pause()
    func resume()
}

/// A KVM virtual machine with its memory, vCPU threads, buses and legacy devices (serial console,
/// i8042 reset). Build it, load a guest into `memory` and the vCPUs' registers, then `start()`.
/// Unchecked: the request, state, exit and start time are reached only under `lock`, a ConditionLock
/// because pause, stop and waitForExit sleep on its condition (Mutex has none); the pausable devices,
/// the first-run observer and the confinement flag are set while the machine is built, before any
/// vCPU thread exists. The compiler sees neither.
public final class Machine: @unchecked Sendable {
    public enum State: Sendable, Equatable {
        case created, running, paused, stopping, stopped
    }

    enum Request {
        case run, pause, stop
    }

    public static let tssAddress: UInt64 = 0xFFFB_D000
    public static let identityMapAddress: UInt64 = 0xFFFB_C000
    /// How long `pause` waits for every vCPU to leave KVM_RUN before giving up.
    public static let pauseTimeoutSeconds = 5.0

    public let name: String
    public let kvm: KVMVirtualMachine
    public let memory: GuestRAM
    public let vcpus: [KVMVCPU]
    public let ports = IOBus(name: "port I/O")
    public let mmio = IOBus(name: "MMIO")
    public let serial: Serial8250

    /// Guards the run request, the state, the exit and every runner's parked/finished flags.
    let lock = ConditionLock()
    var request = Request.run
    private var state = State.created
    private var exit: MachineExit?
    private var runners: [VCPURunner] = []
    private var pausableDevices: [PausableDevice] = []
    private var startTime = 0.0

    /// Called on each vCPU's thread just before its first KVM_RUN (for start-up measurements).
    public var firstRunObserver: ((UInt32) -> Void)?
    /// Each vCPU thread installs its seccomp filter (`SystemCallFilter.confineVCPUThread`) before it runs
    /// the guest. amber-vmm sets it once confined; in-process users (tests) leave it off.
    public var confinesVCPUThreads = false

    /// Builds the machine over fresh guest RAM laid out as `regions`.
    public convenience init(_ configuration: MachineConfiguration, regions: [GuestRAM.Region]) throws {
        try self.init(configuration, memory: GuestRAM(regions: regions))
    }

    /// Builds the machine over `memory`, which may already hold the guest's boot data.
    public convenience init(_ configuration: MachineConfiguration, memory: GuestRAM) throws {
        try self.init(configuration, prepared: PreparedVM(memory: memory, vcpuCount: configuration.vcpuCount))
    }

    /// Builds the machine on a VM prepared for it (its vCPU count must be the configuration's).
    public init(_ configuration: MachineConfiguration, prepared: PreparedVM) throws {
        guard prepared.vcpus.count == configuration.vcpuCount else {
            throw MachineError("the prepared VM has \(prepared.vcpus.count) vCPUs, the machine \(configuration.vcpuCount)")
        }
        name = configuration.name
        let vm = prepared.vm
        kvm = vm
        vcpus = prepared.vcpus
        memory = prepared.memory
        serial = Serial8250(
            output: configuration.serialOutput,
            interrupt: {
                try? vm.pulseIRQLine(Serial8250.com1IRQ)
            })
        try ports.register(serial, base: Serial8250.com1Port, length: Serial8250.registerCount)
        try ports.register(
            I8042(reset: { [unowned self] in stop(.rebooted) }),
            base: I8042.dataPort, length: I8042.commandPort - I8042.dataPort + 1)
        try ports.register(
            ACPIPowerPort { [unowned self] action in
                stop(action == .powerOff ? .poweredOff : .rebooted)
            }, base: ACPIPowerPort.port, length: 1)
        runners = vcpus.map { VCPURunner(vcpu: $0, machine: self) }
    }

    /// Registers a device that pauses and resumes with the vCPUs. Call before `start`.
    public func addPausableDevice(_ device: PausableDevice) {
        pausableDevices.append(device)
    }

    public var currentState: State {
        lock.withLock { state }
    }

    /// Seconds since `start`.
    public var uptime: Double {
        let started = lock.withLock { startTime }
        return started == 0 ? 0 : MonotonicClock.now() - started
    }

    /// Starts one thread per vCPU.
    public func start() throws {
        try Signals.installNoOpHandler(for: Signals.vcpuKick)
        try lock.withLock {
            guard state == .created else { throw MachineError("machine \(name) was already started") }
            state = .running
            startTime = MonotonicClock.now()
        }
        for runner in runners {
            try runner.start()
        }
    }

    /// Stops every vCPU (each confirmed out of KVM_RUN, its last I/O completed) and the devices'
    /// background work. The guest makes no progress until `resume`.
    public func pause() throws {
        try lock.withLock {
            guard state == .running else { throw MachineError("VM \(name) is \(state), not running: nothing to pause") }
            request = .pause
            state = .paused
        }
        runners.forEach { $0.kick() }
        let allParked = lock.withLock {
            lock.wait(until: { runners.allSatisfy { $0.parked || $0.finished } }, timeout: Self.pauseTimeoutSeconds)
        }
        guard allParked else {
            stop(.crashed(reason: "a vCPU did not stop within \(Self.pauseTimeoutSeconds) s of a pause request"))
            throw MachineError("VM \(name) did not pause: a vCPU kept running; the VM is being stopped")
        }
        for vcpu in vcpus {
            // Tells the guest's kvmclock the gap is deliberate; KVMs without kvmclock refuse it.
            try? vcpu.kvmclockControl()
        }
        pausableDevices.forEach { $0.pause() }
    }

    public func resume() throws {
        try lock.withLock {
            guard state == .paused else { throw MachineError("VM \(name) is \(state), not paused: nothing to resume") }
        }
        pausableDevices.forEach { $0.resume() }
        lock.withLock {
            request = .run
            state = .running
            lock.broadcast()
        }
    }

    /// Ends the machine; the first reason given is the one `waitForExit` reports. Safe from any
    /// thread, including a vCPU's own.
    public func stop(_ reason: MachineExit) {
        lock.withLock {
            if exit == nil { exit = reason }
            request = .stop
            if state != .stopped { state = .stopping }
            lock.broadcast()
        }
        runners.forEach { $0.kick() }
    }

    /// Blocks until every vCPU thread has ended, then reports why the machine stopped.
    public func waitForExit() -> MachineExit {
        let started = lock.withLock { state != .created }
        if started {
            lock.withLock { lock.wait { runners.allSatisfy { $0.finished } } }
            runners.forEach { $0.join() }
        }
        pausableDevices.forEach { $0.pause() }
        return lock.withLock {
            state = .stopped
            return exit ?? .stopped
        }
    }
}

extension Machine.State: CustomStringConvertible {
    public var description: String {
        switch self {
        case .created: return "created"
        case .running: return "running"
        case .paused: return "paused"
        case .stopping: return "stopping"
        case .stopped: return "stopped"
        }
    }
}
