import AmberCore
import Crypto
import Foundation

/// A fresh directory under /tmp (or `parent`), removed when the value goes away.
final class StoreTestDirectory {
    let url: URL

    init(parent: String = NSTemporaryDirectory()) throws {
        url = URL(fileURLWithPath: parent).appendingPathComponent("amber-core-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    var home: AmberHome { AmberHome(explicit: path("home")) }
}

/// Deterministic test content: random (incompressible), text-like (compressible), sparse, zero.
enum StoreContent {
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < count {
                state ^= state >> 12; state ^= state << 25; state ^= state >> 27
                var word = state &* 0x2545_F491_4F6C_DD1D
                let n = min(8, count - offset)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
                offset += n
            }
        }
        return bytes
    }

    static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        let words = ["amber", "snapshot", "chunk", "kernel", "memory", "page", "the", "of", "and", "vm", "disk", "store\n"]
        let picks = random(count / 3 + 16, seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        var i = 0
        while out.count < count {
            out += Array(words[Int(picks[i % picks.count]) % words.count].utf8)
            out.append(UInt8(ascii: " "))
            i += 1
        }
        return Array(out.prefix(count))
    }

    static func sparse(_ count: Int, seed: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let island = random(4096, seed: seed)
        for start in stride(from: 0, to: count, by: 1 << 20) {
            let n = min(island.count, count - start)
            bytes.replaceSubrange(start..<(start + n), with: island[0..<n])
        }
        return bytes
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func sha256(ofFile path: String) throws -> String {
        SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// The `amber` executable built from this package (`swift build --product amber`; `make unit-test`
/// builds it before running the tests).
enum AmberBinary {
    static let path: String = {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appendingPathComponent(".build/debug/amber").path
    }()

    static var exists: Bool { FileManager.default.isExecutableFile(atPath: path) }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs amber to completion.
    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Starts amber without waiting; output is discarded.
    static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}
