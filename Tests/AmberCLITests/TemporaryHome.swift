import AmberCore
import AmberTestSupport

extension TemporaryDirectory {
    /// An Amber home inside the directory (created on first use by whatever opens it).
    var home: AmberHome { AmberHome(explicit: path("home")) }
}
