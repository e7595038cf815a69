@testable import AmberCore
import AmberTestSupport
import Foundation
import Testing

@Suite(.serialized) struct StoreConcurrencyTests {
    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func twoImportProcessesAndAGCBesideThemLoseNothing() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.path("home")
        // Shared chunks make the two writers race to store the same data.
        let shared = TestContent.text(8 << 20, seed: 1)
        var sources: [String: String] = [:]
        try TestContent.write(TestContent.random(6 << 20, seed: 9), to: directory.path("doomed"))
        #expect(try AmberBinary.run(["image", "import", directory.path("doomed"), "--name", "doomed", "--home", home]).status == 0)

        for round in 0..<3 {
            var processes: [Process] = []
            for writer in 0..<2 {
                let bytes = shared + TestContent.random(8 << 20, seed: UInt64(round * 10 + writer + 2))
                let input = directory.path("input-\(round)-\(writer)")
                try TestContent.write(bytes, to: input)
                let name = "r\(round)w\(writer)"
                sources[name] = TestContent.sha256(bytes)
                processes.append(try AmberBinary.start(["image", "import", input, "--name", name, "--home", home]))
            }
            if round == 0 {
                processes.append(try AmberBinary.start(["image", "rm", "doomed", "--home", home]))
            }
            processes.append(try AmberBinary.start(["store", "gc", "--home", home]))
            processes.append(try AmberBinary.start(["store", "gc", "--home", home]))
            for process in processes {
                process.waitUntilExit()
                #expect(process.terminationStatus == 0, "\(process.arguments ?? [])")
            }
        }

        #expect(try AmberBinary.run(["store", "gc", "--home", home]).status == 0)
        let images = ImageService(context: try StoreContext(home: AmberHome(explicit: home)))
        #expect(Set(try images.list().map(\.name)) == Set(sources.keys))
        for (name, digest) in sources {
            try images.export(name: name, to: directory.path("out"))
            #expect(try TestContent.sha256(ofFile: directory.path("out")) == digest, "image \(name)")
        }
        let verify = try AmberBinary.run(["store", "verify", "--home", home])
        #expect(verify.status == 0, "\(verify.stdout)")
    }
}
