import AmberFuzzing
import Foundation
import Testing

/// `Fuzz/corpus/<target>/`: the committed seeds and every input a fuzzer once crashed on.
let corpusDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz/corpus")

func corpusFiles(of target: String) throws -> [URL] {
    let directory = corpusDirectory.appendingPathComponent(target)
    return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        .filter { !$0.lastPathComponent.hasPrefix(".") }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
}

/// Every input of every fuzz target's corpus, through the same `run` the fuzzer calls, in a plain debug
/// build: an input that crashes a parser crashes this test process; one that breaks an invariant fails here.
@Suite("Fuzz corpus replay")
struct CorpusReplayTests {
    @Test(arguments: FuzzTarget.all.map(\.name))
    func everyCorpusInputRunsCleanly(_ name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let files = try corpusFiles(of: name)
        #expect(!files.isEmpty, "Fuzz/corpus/\(name) holds no inputs")
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            do {
                try target.run(bytes)
            } catch {
                Issue.record("Fuzz/corpus/\(name)/\(file.lastPathComponent): \(error)")
            }
        }
    }

    @Test func everyCorpusDirectoryIsATarget() throws {
        let directories = try FileManager.default.contentsOfDirectory(atPath: corpusDirectory.path).filter { !$0.hasPrefix(".") }
        #expect(Set(directories) == Set(FuzzTarget.all.map(\.name)))
    }
}
