import AmberSystem
import Foundation

extension FailureCause {
    /// A Foundation file error (FileManager, `Data(contentsOf:)`, `write(to:)`): its localized text, and the errno
    /// Foundation keeps under it (a POSIX error, or a Cocoa error's underlying one).
    public init(foundation error: any Error) {
        self.init(reason: error.localizedDescription, errno: error.underlyingErrno ?? Self.posixCode(of: error))
    }

    private static func posixCode(of error: any Error) -> Int32? {
        if let posix = error as? POSIXError { return posix.code.rawValue }
        let bridged = error as NSError
        if bridged.domain == NSPOSIXErrorDomain { return Int32(bridged.code) }
        // swift-foundation keeps a POSIXError there; the NSError form is swift-corelibs-foundation's.
        switch bridged.userInfo[NSUnderlyingErrorKey] {
        case let posix as POSIXError: return posix.code.rawValue
        case let underlying as NSError where underlying.domain == NSPOSIXErrorDomain: return Int32(underlying.code)
        default: return nil
        }
    }
}
