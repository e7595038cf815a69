import AmberKVM
import AmberSystem

/// The thread that drives one vCPU: enters KVM_RUN, hands port and MMIO exits to the buses, and
/// obeys the machine's run / pause / stop requests between runs. A request reaches a vCPU that is
/// inside KVM_RUN through a kick: `immediate_exit` set, then a signal to this thread.
/// Unchecked: its thread and flags are reached only under the machine's ConditionLock (see `Machine`),
/// and `firstRun` only on its own thread; the compiler cannot see either.
final class VCPURunner: @unchecked Sendable {
    let vcpu: KVMVCPU
    private unowned let machine: Machine
    private var firstRun = true

    // Guarded by machine.lock.
    /// Set under the lock before the thread can take the lock itself, so any kick that follows the
    /// thread's first look at the request finds it. (An application processor waiting for SIPI
    /// ignores `immediate_exit`: only the signal wakes it.)
    private var thread: NativeThread?
    /// Not in KVM_RUN and waiting for a request: what `pause` waits for on every vCPU.
    var parked = false
    var finished = false

    init(vcpu: KVMVCPU, machine: Machine) {
        self.vcpu = vcpu
        self.machine = machine
    }

    func start() throws {
        try machine.lock.withLock {
            thread = try NativeThread(name: "vcpu \(vcpu.id)") { [self] in loop() }
        }
    }

    /// Makes KVM_RUN return now, or right away if the thread is just about to enter it.
    func kick() {
        vcpu.immediateExit = true
        machine.lock.withLock { thread }?.send(signal: Signals.vcpuKick)
    }

    func join() {
        machine.lock.withLock { thread }?.join()
    }

    private func loop() {
        Signals.unblockOnThisThread(Signals.vcpuKick)
        if machine.confinesVCPUThreads {
            do {
                try SystemCallFilter.confineVCPUThread()
            } catch {
                machine.stop(.crashed(reason: "vCPU \(vcpu.id) could not install its system call filter: \(error)"))
            }
        }
        var lastExitNeedsCompletion = false
        while true {
            // Cleared before the request is read: a kick after this point leaves the flag set and
            // makes the next KVM_RUN return at once, so no request is missed.
            vcpu.immediateExit = false
            let request = machine.lock.withLock { machine.request }
            if request != .run {
                if lastExitNeedsCompletion {
                    completePendingAccess()
                    lastExitNeedsCompletion = false
                }
                if park() { break }
                continue
            }
            if firstRun {
                firstRun = false
                machine.firstRunObserver?(vcpu.id)
            }
            do {
                lastExitNeedsCompletion = handle(try vcpu.run())
            } catch {
                machine.stop(.crashed(reason: "vCPU \(vcpu.id): \(error)"))
            }
        }
        machine.lock.withLock {
            finished = true
            machine.lock.broadcast()
        }
    }

    /// After an I/O or MMIO exit the guest's registers are only consistent once KVM has completed
    /// the access, which it does on the next entry: enter once with `immediate_exit` set.
    private func completePendingAccess() {
        vcpu.immediateExit = true
        _ = try? vcpu.run()
        vcpu.immediateExit = false
    }

    /// Waits out a pause; returns true when the machine is stopping.
    private func park() -> Bool {
        machine.lock.withLock {
            parked = true
            machine.lock.broadcast()
            machine.lock.wait { machine.request != .pause }
            parked = false
            return machine.request == .stop
        }
    }

    /// KVM_INTERNAL_ERROR_* suberrors from <linux/kvm.h>.
    static func internalErrorMeaning(_ suberror: UInt32) -> String {
        switch suberror {
        case 1: return ": instruction emulation failed"
        case 2: return ": simultaneous exceptions"
        case 3: return ": event delivery failed"
        case 4: return ": unexpected exit reason"
        default: return ""
        }
    }

    /// Returns whether the exit was an access KVM completes on the next entry.
    private func handle(_ exit: VCPUExit) -> Bool {
        switch exit {
        case .io(let access):
            for item in 0..<access.count {
                let data = access.data + item * access.size
                if access.isWrite {
                    machine.ports.write(UInt64(access.port), from: UnsafeRawBufferPointer(start: data, count: access.size))
                } else {
                    machine.ports.read(UInt64(access.port), into: UnsafeMutableRawBufferPointer(start: data, count: access.size))
                }
            }
            return true
        case .mmio(let access):
            if access.isWrite {
                machine.mmio.write(access.address, from: UnsafeRawBufferPointer(start: access.data, count: access.length))
            } else {
                machine.mmio.read(access.address, into: UnsafeMutableRawBufferPointer(start: access.data, count: access.length))
            }
            return true
        case .interrupted, .halt:
            // HLT is handled inside KVM with the in-kernel irqchip; if it ever reaches us, re-entering
            // lets KVM wait for the next interrupt.
            return false
        case .shutdown:
            machine.stop(.crashed(reason: "vCPU \(vcpu.id) triple-faulted (KVM_EXIT_SHUTDOWN)"))
        case .failEntry(let reason, let cpu):
            machine.stop(
                .crashed(
                    reason:
                        "vCPU \(vcpu.id) failed to enter the guest (KVM_EXIT_FAIL_ENTRY, hardware reason 0x\(String(reason, radix: 16)), host CPU \(cpu))"
                ))
        case .internalError(let suberror):
            machine.stop(
                .crashed(
                    reason:
                        "vCPU \(vcpu.id) hit a KVM internal error (KVM_EXIT_INTERNAL_ERROR, suberror \(suberror)\(Self.internalErrorMeaning(suberror)))"
                ))
        case .systemEvent(let type):
            switch type {
            case 1: machine.stop(.poweredOff)
            case 2: machine.stop(.rebooted)
            default: machine.stop(.crashed(reason: "vCPU \(vcpu.id) reported system event \(type) (guest panic or crash)"))
            }
        case .other(let reason):
            machine.stop(.crashed(reason: "vCPU \(vcpu.id) exited with unexpected KVM exit reason \(reason)"))
        }
        return false
    }
}
