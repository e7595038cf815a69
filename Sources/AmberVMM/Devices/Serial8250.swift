import AmberMachineState
import AmberSystem

/// A 16550A-compatible UART (the PC's COM1 at 0x3F8, IRQ 4): the guest's console. Transmitted
/// bytes go to `output` at once (the line never backs up); bytes given to `receive` are queued for
/// the guest to read. Interrupts are edge pulses on the ISA line, as the PC's 8250 wiring does.
// @unchecked: every register is read and written only under `lock`, and `output`/`interrupt` are set once at
// init and called outside it (they forward to the console hub and an irqfd, both thread-safe); the compiler
// sees neither the lock discipline nor the closures' safety.
public final class Serial8250: BusDevice, @unchecked Sendable {
    public static let com1Port: UInt64 = 0x3F8
    public static let com1IRQ: UInt32 = 4
    public static let registerCount: UInt64 = 8
    /// Input beyond this many unread bytes is dropped, as a real UART's overrun would.
    public static let inputLimit = Serial8250State.inputLimit

    private enum Register {
        static let data: UInt64 = 0  // RBR/THR, or DLL when DLAB
        static let interruptEnable: UInt64 = 1  // IER, or DLM when DLAB
        static let interruptID: UInt64 = 2  // IIR (read) / FCR (write)
        static let lineControl: UInt64 = 3
        static let modemControl: UInt64 = 4
        static let lineStatus: UInt64 = 5
        static let modemStatus: UInt64 = 6
        static let scratch: UInt64 = 7
    }

    private enum Bits {
        static let ierReceivedData: UInt8 = 0x01
        static let ierTransmitterEmpty: UInt8 = 0x02
        static let iirNoInterrupt: UInt8 = 0x01
        static let iirTransmitterEmpty: UInt8 = 0x02
        static let iirReceivedData: UInt8 = 0x04
        static let iirFIFOsEnabled: UInt8 = 0xC0
        static let lcrDivisorLatch: UInt8 = 0x80
        static let lsrDataReady: UInt8 = 0x01
        /// Transmit holding register empty and transmitter empty: output never waits.
        static let lsrTransmitterIdle: UInt8 = 0x60
        static let mcrLoopback: UInt8 = 0x10
        /// Carrier detect, data set ready, clear to send: a modem that is always there.
        static let msrConnected: UInt8 = 0xB0
    }

    private let lock = ConditionLock()
    private let output: ([UInt8]) -> Void
    private let interrupt: () -> Void

    private var interruptEnable: UInt8 = 0
    private var lineControl: UInt8 = 0x03
    private var modemControl: UInt8 = 0x08
    private var scratch: UInt8 = 0
    private var divisorLow: UInt8 = 0x0C
    private var divisorHigh: UInt8 = 0
    private var fifoControl: UInt8 = 0
    private var transmitterEmptyPending = false
    private var input: [UInt8] = []
    private var inputStart = 0

    /// `interrupt` pulses the UART's interrupt line; `output` receives transmitted bytes. Both are
    /// called on the vCPU thread that caused them (or the thread calling `receive`), outside the lock.
    public init(output: @escaping ([UInt8]) -> Void, interrupt: @escaping () -> Void) {
        self.output = output
        self.interrupt = interrupt
    }

    /// Queues bytes for the guest to read and raises the received-data interrupt if enabled.
    public func receive(_ bytes: [UInt8]) {
        let raise: Bool = lock.withLock {
            let room = Self.inputLimit - (input.count - inputStart)
            input.append(contentsOf: bytes.prefix(max(room, 0)))
            return interruptEnable & Bits.ierReceivedData != 0 && !bytes.isEmpty
        }
        if raise { interrupt() }
    }

    public func read(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        data.initializeMemory(as: UInt8.self, repeating: 0)
        guard !data.isEmpty else { return }
        data[0] = lock.withLock { readRegister(offset) }
    }

    public func write(offset: UInt64, from data: UnsafeRawBufferPointer) {
        guard let value = data.first else { return }
        var transmitted: UInt8?
        let raise: Bool = lock.withLock {
            writeRegister(offset, value, transmitted: &transmitted)
        }
        if let transmitted { output([transmitted]) }
        if raise { interrupt() }
    }

    private var divisorLatchAccess: Bool { lineControl & Bits.lcrDivisorLatch != 0 }
    private var hasInput: Bool { inputStart < input.count }

    private func readRegister(_ offset: UInt64) -> UInt8 {
        switch offset {
        case Register.data:
            if divisorLatchAccess { return divisorLow }
            guard hasInput else { return 0 }
            let byte = input[inputStart]
            inputStart += 1
            if inputStart == input.count {
                input.removeAll(keepingCapacity: true)
                inputStart = 0
            }
            return byte
        case Register.interruptEnable:
            return divisorLatchAccess ? divisorHigh : interruptEnable
        case Register.interruptID:
            let fifoBits = fifoControl & 1 != 0 ? Bits.iirFIFOsEnabled : 0
            if interruptEnable & Bits.ierReceivedData != 0 && hasInput {
                return fifoBits | Bits.iirReceivedData
            }
            if interruptEnable & Bits.ierTransmitterEmpty != 0 && transmitterEmptyPending {
                // Reading IIR while it reports THRE acknowledges that interrupt.
                transmitterEmptyPending = false
                return fifoBits | Bits.iirTransmitterEmpty
            }
            return fifoBits | Bits.iirNoInterrupt
        case Register.lineControl:
            return lineControl
        case Register.modemControl:
            return modemControl
        case Register.lineStatus:
            return Bits.lsrTransmitterIdle | (hasInput ? Bits.lsrDataReady : 0)
        case Register.modemStatus:
            if modemControl & Bits.mcrLoopback != 0 {
                // Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD; Linux's probe checks this.
                let mcr = modemControl
                return (mcr & 0x01) << 5 | (mcr & 0x02) << 3 | (mcr & 0x04) << 4 | (mcr & 0x08) << 4
            }
            return Bits.msrConnected
        case Register.scratch:
            return scratch
        default:
            return 0
        }
    }

    /// Returns whether the interrupt line must be pulsed.
    private func writeRegister(_ offset: UInt64, _ value: UInt8, transmitted: inout UInt8?) -> Bool {
        switch offset {
        case Register.data:
            if divisorLatchAccess {
                divisorLow = value
                return false
            }
            if modemControl & Bits.mcrLoopback != 0 {
                input.append(value)
            } else {
                transmitted = value
            }
            transmitterEmptyPending = true
            return interruptEnable & Bits.ierTransmitterEmpty != 0
        case Register.interruptEnable:
            if divisorLatchAccess {
                divisorHigh = value
                return false
            }
            let enabling = value & ~interruptEnable
            interruptEnable = value & 0x0F
            // The transmitter is always empty, so enabling THRI raises an interrupt at once; the
            // same holds for received data already waiting.
            if enabling & Bits.ierTransmitterEmpty != 0 { transmitterEmptyPending = true }
            return (enabling & Bits.ierTransmitterEmpty != 0) || (enabling & Bits.ierReceivedData != 0 && hasInput)
        case Register.interruptID:
            fifoControl = value
            return false
        case Register.lineControl:
            lineControl = value
        case Register.modemControl:
            modemControl = value & 0x1F
        case Register.scratch:
            scratch = value
        default:
            break
        }
        return false
    }
}

extension Serial8250 {
    public typealias State = Serial8250State

    public func save() -> State {
        lock.withLock {
            State(
                interruptEnable: interruptEnable, lineControl: lineControl, modemControl: modemControl,
                scratch: scratch, divisorLow: divisorLow, divisorHigh: divisorHigh, fifoControl: fifoControl,
                transmitterEmptyPending: transmitterEmptyPending, input: Array(input[inputStart...]))
        }
    }

    /// Puts saved registers back. No interrupt is pulsed: one that was raised but not yet taken is
    /// part of the interrupt controllers' saved state.
    public func restore(_ state: State) throws {
        guard state.input.count <= Self.inputLimit else {
            throw MachineError(
                "saved serial input holds \(state.input.count) bytes, more than the UART's \(Self.inputLimit): the state is corrupt")
        }
        lock.withLock {
            interruptEnable = state.interruptEnable & 0x0F
            lineControl = state.lineControl
            modemControl = state.modemControl & 0x1F
            scratch = state.scratch
            divisorLow = state.divisorLow
            divisorHigh = state.divisorHigh
            fifoControl = state.fifoControl
            transmitterEmptyPending = state.transmitterEmptyPending
            input = state.input
            inputStart = 0
        }
    }
}
