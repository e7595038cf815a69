/// The 8250 UART's registers and unread input: what a snapshot needs to resume the console as it was.
public struct Serial8250State: Codable, Equatable, Sendable {
    public var interruptEnable: UInt8
    public var lineControl: UInt8
    public var modemControl: UInt8
    public var scratch: UInt8
    public var divisorLow: UInt8
    public var divisorHigh: UInt8
    public var fifoControl: UInt8
    public var transmitterEmptyPending: Bool
    /// Bytes received but not yet read by the guest.
    public var input: [UInt8]

    /// Input beyond this many unread bytes is dropped, as a real UART's overrun would; a saved state
    /// holding more is corrupt.
    public static let inputLimit = 64 * 1024

    public init(
        interruptEnable: UInt8, lineControl: UInt8, modemControl: UInt8, scratch: UInt8, divisorLow: UInt8,
        divisorHigh: UInt8, fifoControl: UInt8, transmitterEmptyPending: Bool, input: [UInt8]
    ) {
        self.interruptEnable = interruptEnable
        self.lineControl = lineControl
        self.modemControl = modemControl
        self.scratch = scratch
        self.divisorLow = divisorLow
        self.divisorHigh = divisorHigh
        self.fifoControl = fifoControl
        self.transmitterEmptyPending = transmitterEmptyPending
        self.input = input
    }
}
