import AmberControl
import Foundation
import Testing

@Suite("MAC addresses")
struct MACAddressTests {
    @Test func parsesAndFormatsLowercase() throws {
        let address = try #require(MACAddress("52:54:00:AB:cd:0F"))
        #expect(address.bytes == [0x52, 0x54, 0x00, 0xAB, 0xCD, 0x0F])
        #expect(address.description == "52:54:00:ab:cd:0f")
        // QEMU's 52:54:00 prefix is locally administered; Xen's 00:16:3e is a vendor's.
        #expect(address.isUnicast && address.isLocallyAdministered)
        #expect(MACAddress("00:16:3e:00:00:01")?.isLocallyAdministered == false)
    }

    @Test(arguments: [
        "", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52-54-00-ab-cd-ef", "5:54:00:ab:cd:ef", "g2:54:00:ab:cd:ef", "+2:54:00:ab:cd:ef",
        "52:54:00:ab:cd:ef:",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(MACAddress(text) == nil)
    }

    @Test func randomAddressesAreLocallyAdministeredUnicast() {
        var seen = Set<MACAddress>()
        for _ in 0..<200 {
            let address = MACAddress.randomLocallyAdministered()
            #expect(address.isUnicast && address.isLocallyAdministered)
            #expect(MACAddress(address.description) == address)
            seen.insert(address)
        }
        #expect(seen.count > 190)
    }

    @Test func encodesAsItsText() throws {
        let address = try #require(MACAddress("02:00:00:00:00:01"))
        let json = try JSONEncoder().encode([address])
        #expect(String(decoding: json, as: UTF8.self) == "[\"02:00:00:00:00:01\"]")
        #expect(try JSONDecoder().decode([MACAddress].self, from: json) == [address])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([MACAddress].self, from: Data("[\"nope\"]".utf8)) }
    }
}

@Suite("Network interfaces in config.json")
struct NetworkConfigurationTests {
    private func problem(_ interfaces: [NetworkInterfaceConfiguration]) -> String? {
        do {
            try ConfigurationCheck.validate(interfaces)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func interface(_ tap: String = "tap0", _ mac: String = "52:54:00:ab:cd:ef", namespace: String? = nil)
        -> NetworkInterfaceConfiguration
    {
        NetworkInterfaceConfiguration(tapName: tap, macAddress: mac, networkNamespacePath: namespace)
    }

    @Test func goodInterfacesPass() {
        #expect(problem([]) == nil)
        #expect(problem([interface(), interface("amber-web1.0_x", "02:00:00:00:00:01", namespace: "/run/netns/clone1")]) == nil)
        #expect(problem((0..<8).map { interface("tap\($0)", "02:00:00:00:00:0\($0 + 1)") }) == nil)
    }

    @Test func badInterfacesAreNamed() {
        let badName = "tap device name \"%@\" is invalid: use 1 to 15 characters of A-Z, a-z, 0-9, _, . and -"
        for name in ["", "a-name-of-16-chr", "tap 0", "tap/0", "tap:0", ".", "..", "täp"] {
            #expect(problem([interface(name)]) == badName.replacingOccurrences(of: "%@", with: name))
        }
        #expect(
            problem([interface("tap0", "52:54:00:AB:CD:EF")])
                == "MAC address \"52:54:00:AB:CD:EF\" is invalid: write six lowercase hex pairs separated by colons, like 52:54:00:ab:cd:ef"
        )
        #expect(problem([interface("tap0", "52:54:00")])?.hasPrefix("MAC address \"52:54:00\" is invalid") == true)
        #expect(
            problem([interface("tap0", "ff:ff:ff:ff:ff:ff")])
                == "MAC address ff:ff:ff:ff:ff:ff is not a unicast address: use one whose first byte is even, like 52:54:00:ab:cd:ef")
        #expect(problem([interface("tap0", "00:00:00:00:00:00")])?.hasPrefix("MAC address 00:00:00:00:00:00 is not a unicast") == true)
        #expect(problem([interface(), interface()]) == "tap device tap0 is attached twice: give each network interface a tap of its own")
        #expect(
            problem([interface(), interface("tap1")]) == "MAC address 52:54:00:ab:cd:ef is used twice: give each network interface its own")
        #expect(
            problem([interface(namespace: "netns/x")]) == "network namespace path \"netns/x\" is not an absolute path: use /run/netns/NAME")
        #expect(
            problem((0..<9).map { interface("tap\($0)", "02:00:00:00:00:0\($0 + 1)") })
                == "9 network interfaces is too many: attach at most 8")
    }

    @Test func aConfigurationWithoutNetworkInterfacesHasNone() throws {
        let old = """
            {"name":"web1","kernelPath":"/k","commandLine":"console=ttyS0","memoryBytes":67108864,"vcpus":1,"disks":[],
             "controlSocketPath":"/tmp/c.sock"}
            """
        let configuration = try ConfigurationCheck.decode(Data(old.utf8), path: "config.json")
        #expect(configuration.networkInterfaces == [])
        var withNIC = configuration
        withNIC.networkInterfaces = [interface()]
        let again = try ConfigurationCheck.decode(try JSONEncoder().encode(withNIC), path: "config.json")
        #expect(again == withNIC)
        #expect(throws: ConfigurationError("invalid VM configuration config.json: field \"networkInterfaces\" has the wrong type")) {
            try ConfigurationCheck.decode(
                Data(old.replacingOccurrences(of: "\"disks\":[]", with: "\"disks\":[],\"networkInterfaces\":3").utf8), path: "config.json")
        }
    }
}
