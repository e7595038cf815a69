import AmberTestSupport
import Foundation
import Testing

/// `amber` and `amberd` link no VM code (issue 13): no KVM, boot, virtio or machine, only the control protocol
/// and the data-only targets (the disk format, the machine state's shape). Checked on the binaries this build
/// produced, where a linked module leaves its symbols: a Swift symbol of module M begins `$s<length of M>M`.
/// `scripts/check-cli-dependencies` checks the same in Package.swift's dependency closure.
@Suite("Linked modules")
struct LinkedModulesTests {
    static let vmModules = ["AmberVMM", "AmberVirtio", "AmberKVM", "AmberBoot"]

    static func modules(among names: [String], linkedInto binary: URL) throws -> [String] {
        let bytes = try Data(contentsOf: binary, options: .alwaysMapped)
        return names.filter { bytes.range(of: Data("$s\($0.utf8.count)\($0)".utf8)) != nil }
    }

    @Test(arguments: ["amber", "amberd"])
    func linksNoVMCode(_ name: String) throws {
        let binary = BuiltProducts.directory.appendingPathComponent(name)
        #expect(try Self.modules(among: Self.vmModules, linkedInto: binary) == [], "\(name) links VM code")
    }

    /// The check finds modules that are linked: amber-vmm has all four.
    @Test func findsTheVMMsModulesInAmberVMM() throws {
        #expect(try Self.modules(among: Self.vmModules, linkedInto: BuiltProducts.amberVMM) == Self.vmModules)
    }
}
