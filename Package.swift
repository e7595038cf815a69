// swift-tools-version:6.0
import PackageDescription

// One target per concern; dependencies point one way (see docs/ARCHITECTURE.md):
// C shims (CSystem, CKVM, CLZ4, CSQLite) -> AmberSystem -> AmberKVM/AmberBoot/AmberVirtio -> AmberVMM -> amber-vmm;
// AmberSystem -> the data-only AmberControl (the control protocol, VMConfiguration), AmberDisk (the overlay disk
// format) and AmberMachineState (a saved machine's shape and checks) -> AmberVMM and AmberCore -> amber, amberd.
// AmberStore, AmberCatalog and AmberPolicy sit beside the VMM, never importing it. amber and amberd link no KVM,
// boot, virtio or machine code: scripts/check-cli-dependencies and AmberCLITests' LinkedModulesTests fail if they do.
// `make build` links release binaries fully static (AMBER_STATIC=1 with --static-swift-stdlib): no dynamic
// loader resolving thousands of symbols at every start (3-5 ms of each `amber` command and of amber-vmm's start,
// on the path of every clone; BENCHMARKS.md "Rollback and clone"). -static-executable needs the static Swift
// libraries the way --static-swift-stdlib builds them, so a plain `swift build -c release` links the default
// way. Debug builds and test bundles stay dynamic.
let staticInRelease: [LinkerSetting] =
    Context.environment["AMBER_STATIC"] == "1"
    ? [.unsafeFlags(["-static-executable"], .when(configuration: .release))] : []

// `amber --version` names the commit it was built from: $AMBER_BUILD_COMMIT, which the Makefile sets from
// `git describe` (the environment is part of SwiftPM's manifest cache key, so a new commit is seen), else
// "unknown" (a plain `swift build`: SwiftPM caches this manifest's evaluation and would keep naming an old
// commit if it were read from git here; no build script, no network).
let buildCommit = Context.environment["AMBER_BUILD_COMMIT"].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"

let package = Package(
    name: "Amber",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "amber", targets: ["amber"]),
        .executable(name: "amber-vmm", targets: ["amber-vmm"]),
        .executable(name: "amberd", targets: ["amberd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "CKVM"),
        .target(name: "CSystem"),
        .target(name: "CBuildInfo", cSettings: [.define("AMBER_BUILD_COMMIT", to: "\"\(buildCommit)\"")]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        .target(name: "AmberSystem", dependencies: ["CSystem"]),
        // A saved machine's shape, data only: MachineState, its file format and checks, and every device's saved
        // state (vCPUs and VM-wide KVM state as the kernel structs' bytes, serial, virtio); no KVM calls, no devices.
        .target(name: "AmberMachineState", dependencies: ["CKVM", "AmberSystem"]),
        .target(name: "AmberKVM", dependencies: ["CKVM", "AmberMachineState", "AmberSystem"]),
        .target(name: "AmberBoot"),
        // The vocabulary store and catalog share (digests, chunk locations, pack extents, codecs, snapshot
        // kinds): values only, no I/O.
        .target(name: "AmberModel"),
        // The copy-on-write overlay disk format and raw images (what amber reads and amber-vmm serves): no virtio.
        .target(name: "AmberDisk", dependencies: ["AmberSystem"]),
        .target(name: "AmberVirtio", dependencies: ["AmberDisk", "AmberMachineState", "AmberSystem"]),
        // What amber and amber-vmm share: the control protocol, VMConfiguration, where a VM's cgroup lives.
        .target(name: "AmberControl", dependencies: ["AmberSystem"]),
        .target(
            name: "AmberVMM",
            dependencies: [
                "CKVM", "AmberControl", "AmberKVM", "AmberBoot", "AmberDisk", "AmberMachineState", "AmberVirtio", "AmberSystem",
            ]),
        .target(
            name: "AmberStore",
            dependencies: [
                "CLZ4", "COpenSSL", "AmberModel", "AmberSystem", .product(name: "Crypto", package: "swift-crypto"),
                // scrypt, the memory-hard key derivation of encrypted stores' key slots.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),
        .target(name: "AmberCatalog", dependencies: ["CSQLite", "AmberModel"]),
        .target(name: "AmberPolicy", dependencies: ["Yams"]),
        // Amber's networks on the host: definitions, addresses, the bridge, nftables table and dnsmasq of each,
        // the VMs' taps and published ports (through iproute2, nft and dnsmasq); no VM code.
        .target(name: "AmberNetwork", dependencies: ["AmberSystem"]),
        .target(
            name: "AmberCore",
            dependencies: [
                "AmberControl", "AmberDisk", "AmberMachineState", "AmberModel", "AmberNetwork", "AmberStore", "AmberCatalog", "AmberPolicy",
                "AmberSystem", "CBuildInfo",
            ]),

        .executableTarget(name: "amber-vmm", dependencies: ["AmberControl", "AmberVMM", "AmberSystem"], linkerSettings: staticInRelease),
        .executableTarget(
            name: "amber-state-bench",
            dependencies: [
                "CKVM", "AmberVMM", "AmberKVM", "AmberMachineState", "AmberSystem",
            ]),
        .executableTarget(
            name: "amber-store-bench",
            dependencies: [
                "AmberCore", "AmberModel", "AmberStore", "AmberCatalog", "AmberSystem", "CLZ4",
            ]),
        .executableTarget(name: "amber-policy-bench", dependencies: ["AmberPolicy"]),
        .executableTarget(name: "amber-records-bench", dependencies: ["AmberCore"]),
        .executableTarget(name: "amber-disk-bench", dependencies: ["AmberDisk", "AmberSystem"]),
        .executableTarget(name: "amber-disk-crash-writer", dependencies: ["AmberDisk"]),
        // What `amber` and `amberd` share on the command line: one way to run a command, report errors and exit.
        .target(
            name: "AmberCommandLine",
            dependencies: [
                "AmberCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "amber",
            dependencies: [
                "AmberCore", "AmberCommandLine", "AmberModel", "AmberNetwork", "AmberPolicy", "AmberCatalog", "AmberStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], linkerSettings: staticInRelease),

        // Fuzzing: each target's body is a library (replayed over its corpus by AmberFuzzingTests in every
        // `make test`); `amber-fuzz` wraps them for libFuzzer and is built only by `make fuzz` (Fuzz/README.md).
        .target(
            name: "AmberFuzzing",
            dependencies: [
                "AmberControl", "AmberCore", "AmberMachineState", "AmberModel", "AmberNetwork", "AmberStore", "AmberPolicy", "AmberSystem",
            ]),
        .executableTarget(name: "amber-fuzz", dependencies: ["AmberFuzzing"]),

        .executableTarget(
            name: "amberd",
            dependencies: [
                "AmberCore", "AmberCommandLine", "AmberPolicy", "AmberSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], linkerSettings: staticInRelease),

        // What the test targets share (temporary directories, seeded content, tiny bzImages, running the built
        // binaries); it depends on none of Amber's modules, so every test target can use it.
        .target(
            name: "AmberTestSupport", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/AmberTestSupport"),
        .testTarget(name: "AmberSystemTests", dependencies: ["AmberSystem"]),
        .testTarget(name: "AmberKVMTests", dependencies: ["AmberKVM", "AmberMachineState", "AmberSystem", "CKVM"]),
        .testTarget(name: "AmberBootTests", dependencies: ["AmberBoot"]),
        .testTarget(
            name: "AmberVirtioTests",
            dependencies: [
                "AmberVirtio", "AmberDisk", "AmberMachineState", "AmberSystem", "AmberTestSupport",
            ]),
        .testTarget(name: "AmberControlTests", dependencies: ["AmberControl"]),
        .testTarget(
            name: "AmberVMMTests",
            dependencies: [
                "AmberControl", "AmberVMM", "AmberKVM", "AmberMachineState", "AmberSystem", "AmberVirtio", "CKVM", "AmberTestSupport",
            ]),
        .testTarget(name: "AmberStoreTests", dependencies: ["AmberStore", "AmberModel", "AmberSystem", "AmberTestSupport"]),
        .testTarget(name: "AmberCatalogTests", dependencies: ["AmberCatalog", "AmberModel", "AmberTestSupport"]),
        .testTarget(name: "AmberPolicyTests", dependencies: ["AmberPolicy", "AmberTestSupport"]),
        .testTarget(name: "AmberNetworkTests", dependencies: ["AmberNetwork", "AmberSystem", "AmberTestSupport"]),
        .testTarget(
            name: "AmberCoreTests",
            dependencies: [
                "AmberCore", "AmberControl", "AmberModel", "AmberStore", "AmberCatalog", "AmberPolicy", "AmberVMM", "AmberSystem",
                "AmberTestSupport",
            ]),
        // Black-box tests: the built `amber`, `amber-vmm` and `amberd` run as a user runs them, each against a
        // home of its own; they read the store and catalog through the modules to check what the commands did.
        .testTarget(
            name: "AmberCLITests",
            dependencies: [
                "AmberCore", "AmberControl", "AmberModel", "AmberStore", "AmberCatalog", "AmberVMM", "AmberKVM", "AmberVirtio",
                "AmberDisk", "AmberMachineState", "AmberNetwork", "AmberSystem", "AmberTestSupport",
            ]),
        .testTarget(
            name: "AmberFuzzingTests",
            dependencies: [
                "AmberFuzzing", "AmberControl", "AmberMachineState", "AmberNetwork", "AmberPolicy", "AmberStore", "AmberVMM",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
