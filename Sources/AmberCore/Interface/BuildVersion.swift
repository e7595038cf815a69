import CBuildInfo

/// What `amber --version` and `amberd --version` print.
public enum BuildVersion {
    /// Raised by hand for a release; the commit tells builds between releases apart.
    public static let version = "0.9.0"
    public static let commit = String(cString: amber_build_commit())
    public static let description = "\(version) (commit \(commit))"
}
