/// amber-vmm's "no": one actionable line, a stable code a caller can act on (retry, or give up), and,
/// where a system call failed, which one and its errno.
public struct ControlRefusal: Error, Codable, CustomStringConvertible, Equatable, Sendable {
    public enum Code: String, Codable, Sendable, CaseIterable {
        /// Another snapshot of this VM is being taken: retry once it is done.
        case snapshotInProgress
        /// Another rollback of this VM is under way (amber refuses this one itself): retry once it is done.
        case rollbackInProgress
        /// The VM is paused for a snapshot, which resumes it by itself: retry `resume` later if needed.
        case pausedForSnapshot
        /// amber-vmm serves as many control connections as it can: retry.
        case tooManyConnections
        /// The snapshot kept the guest paused past its limit and was abandoned: take it again.
        case snapshotAbandoned
        /// Only the user who started the VM may control it.
        case notPermitted
        /// The line was not a request of this protocol version, or not valid JSON.
        case badRequest
        /// The request came from another build of amber (`ControlProtocolError.versionMismatch`).
        case versionMismatch
        /// A snapshot step out of `SnapshotStep`'s order.
        case outOfOrder
        /// The VM cannot do this as configured (e.g. a snapshot of memory mapped shared).
        case unsupported
        /// The operation failed inside amber-vmm (see `cause`).
        case failed
    }

    /// A failed system call behind the refusal.
    public struct Cause: Codable, Equatable, Sendable, CustomStringConvertible {
        /// The call or operation, e.g. "KVM_SET_REGS" or "fork".
        public var call: String
        public var errno: Int32

        public init(call: String, errno: Int32) {
            self.call = call
            self.errno = errno
        }

        public var description: String { "\(call) failed with errno \(errno)" }
    }

    public var code: Code
    /// One line saying what went wrong and what to do.
    public var message: String
    public var cause: Cause?

    public init(_ code: Code, _ message: String, cause: Cause? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Whether the same request may succeed if sent again later, unchanged.
    public var isTransient: Bool {
        switch code {
        case .snapshotInProgress, .rollbackInProgress, .pausedForSnapshot, .tooManyConnections, .snapshotAbandoned: true
        case .notPermitted, .badRequest, .versionMismatch, .outOfOrder, .unsupported, .failed: false
        }
    }

    public var description: String { message }
}
