import AmberFuzzing
#if FUZZING
import AmberSystem
import Glibc

/// libFuzzer's driver, called from this executable's own `main`: SwiftPM links every executable with its
/// entry point renamed and `main` defined to it, so libFuzzer's `main` cannot be the one that runs.
@_silgen_name("LLVMFuzzerRunDriver")
private func runLibFuzzer(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The target this process fuzzes, named by $AMBER_FUZZ_TARGET (one binary serves them all).
private let target: FuzzTarget = {
    let name = getenv("AMBER_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.named(name) else {
        let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
        StandardError.write("amber-fuzz: set AMBER_FUZZ_TARGET to one of: \(names)\n")
        exit(2)
    }
    return target
}()

/// One input: a parser's crash, or an invariant it broke (thrown), ends the process for libFuzzer to save the input.
private func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do {
        try target.run(bytes)
    } catch {
        fatalError("amber-fuzz \(target.name): \(error)")
    }
    return 0
}

@main
enum AmberFuzz {
    static func main() {
        _ = target
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runLibFuzzer(&argc, &argv) { fuzzOneInput($0, $1) })
    }
}
#else
/// Built without -DFUZZING (a plain `swift build`) there is no libFuzzer to drive the targets: this `main`
/// says how to get one.
@main
enum AmberFuzz {
    static func main() {
        print("amber-fuzz is built for fuzzing by `make fuzz` (targets: \(FuzzTarget.all.map(\.name).joined(separator: ", ")))")
    }
}
#endif
