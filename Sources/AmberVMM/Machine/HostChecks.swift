import Glibc

public enum HostChecks {
    /// Non-nil when /dev/kvm is PVM, a software virtualizer that runs unmodified guests hundreds of
    /// times slower than hardware KVM: the warning to print.
    public static func pvmWarning(moduleDirectory: String = "/sys/module/kvm_pvm") -> String? {
        guard access(moduleDirectory, F_OK) == 0 else { return nil }
        return
            "warning: /dev/kvm is PVM (kvm_pvm is loaded): unmodified guests run hundreds of times slower than on hardware KVM, and Linux may not boot at all"
    }
}
