import CKVM
import Glibc

/// The one place AmberKVM issues ioctls. EINTR is retried here except where a caller wants to
/// see it (KVM_RUN, which a kick interrupts on purpose).
@discardableResult
func kvmIOControl(
    _ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer?, _ operation: @autoclosure () -> String,
    retryInterrupts: Bool = true
) throws -> Int32 {
    while true {
        let result = argument.map { ioctl(fd, request, $0) } ?? ioctl(fd, request, 0 as Int32)
        if result >= 0 { return result }
        let code = errno
        if code == EINTR && retryInterrupts { continue }
        throw KVMError.ioctl(operation: operation(), errno: code)
    }
}

/// An ioctl whose argument is a plain integer rather than a pointer. It travels in a pointer-sized
/// register so that values above 2^31 (KVM_SET_TSS_ADDR's 0xFFFBD000) are not sign-extended.
@discardableResult
func kvmIOControl(_ fd: Int32, _ request: UInt, value: UInt64, _ operation: @autoclosure () -> String) throws -> Int32 {
    try kvmIOControl(fd, request, UnsafeMutableRawPointer(bitPattern: UInt(value)), operation())
}

/// Passes a struct to an ioctl by pointer (both directions).
@discardableResult
func kvmIOControl<T>(_ fd: Int32, _ request: UInt, _ value: inout T, _ operation: @autoclosure () -> String) throws -> Int32 {
    try withUnsafeMutableBytes(of: &value) { raw in
        try kvmIOControl(fd, request, raw.baseAddress, operation())
    }
}
