import AmberControl
@testable import AmberFuzzing
import AmberMachineState
import AmberNetwork
import AmberPolicy
import AmberStore
import AmberVMM
import Foundation
import Testing

/// The seeds are worth fuzzing from only if the parsers accept them: mutations then start from deep inside.
@Suite("Fuzz seeds are accepted by their parsers")
struct SeedDepthTests {
    func seed(_ target: String, _ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: corpusDirectory.appendingPathComponent(target).appendingPathComponent("seed-" + name)))
    }

    @Test func packSeedScansWhole() throws {
        try FuzzScratch.writePack(try seed("pack", "lz4-raw-delta-manifest.pack"))
        let scan = try ChunkReader(store: FuzzScratch.store, index: InMemoryChunkIndex()).scanPack(FuzzScratch.packName)
        #expect(scan.damaged.isEmpty && scan.stopReason == nil && scan.validLength == scan.fileLength)
        #expect(Set(scan.records.map(\.location.codec)) == [.raw, .lz4, .delta])
    }

    @Test func machineStateSeedsDecode() throws {
        for name in ["tiny-guest-1-vcpu.state", "tiny-guest-2-vcpus.state"] {
            _ = try MachineState(encoded: try seed("machine-state", name))
        }
        let withNIC = try MachineState(encoded: try seed("machine-state", "tiny-guest-nic.state"))
        #expect(withNIC.virtioDevices.first?.network != nil)
    }

    @Test func vmConfigurationSeedsPassTheCheck() throws {
        for name in ["boot.json", "restore.json"] {
            let configuration = try ConfigurationCheck.decode(Data(try seed("vm-config", name)), path: name)
            try ConfigurationCheck.validate(configuration, hostMemoryBytes: 8 << 30)
            #expect(name != "boot.json" || configuration.networkInterfaces.count == 2)
        }
    }

    @Test func networkSeedsPassTheirChecks() throws {
        let network = try NetworkFileCheck.definition(Data(try seed("network-definition", "web.json")), name: "web", path: "web.json")
        let nics = try NetworkFileCheck.attachments(
            Data(try seed("network-attachments", "two-vms.json")), of: network, path: "two-vms.json")
        #expect(nics.count == 2 && nics[0].publishedPorts.count == 2)
    }

    @Test func manifestSeedDecodes() throws {
        let bytes = try seed("manifest", "three-chunks")
        let rootLength = Int(bytes[0]) | Int(bytes[1]) << 8
        let rootBytes = Array(bytes[4..<(4 + rootLength)])
        let tree = try Manifest.tree(rootBytes: rootBytes, root: .zero, piece: { _ in Array(bytes[(4 + rootLength)...]) })
        #expect(tree.manifest.digests.count == 3)
    }

    @Test func deltaSeedParses() throws {
        let bytes = try seed("delta", "one-changed-page")
        let rawLength = 1 + (Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16)
        let parsed = try bytes.withUnsafeBytes { try DeltaRecord.parse(UnsafeRawBufferPointer(rebasing: $0[3...]), rawLength: rawLength) }
        #expect(parsed.changedPages == [1])
    }

    @Test func policySeedsParse() throws {
        for name in ["every-field.yaml", "web-tier.yaml", "lab.yaml", "databases.yaml"] {
            let text = String(decoding: try seed("policy", name), as: UTF8.self)
            _ = try PolicySet(files: [(name: name, text: text)], defaultTimeZone: TimeZone(identifier: "UTC")!)
        }
    }
}
