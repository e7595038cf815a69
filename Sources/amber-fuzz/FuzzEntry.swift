import AmberFuzzing
#if FUZZING
import Glibc

/// libFuzzer's entry point: `make fuzz` builds this file with `-sanitize=fuzzer,address -DFUZZING`, and
/// libFuzzer supplies `main`. The target is named by $AMBER_FUZZ_TARGET (one binary serves them all).
private let target: FuzzTarget = {
    let name = getenv("AMBER_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.named(name) else {
        let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
        fputs("amber-fuzz: set AMBER_FUZZ_TARGET to one of: \(names)\n", stderr)
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do {
        try target.run(bytes)
    } catch {
        fatalError("amber-fuzz \(target.name): \(error)")
    }
    return 0
}
#else
/// Built without -DFUZZING (a plain `swift build`), there is no libFuzzer to drive the targets: this
/// `main` says how to get one, so the package still links.
@main
enum AmberFuzzWithoutLibFuzzer {
    static func main() {
        print("amber-fuzz is built for fuzzing by `make fuzz` (targets: \(FuzzTarget.all.map(\.name).joined(separator: ", ")))")
    }
}
#endif
