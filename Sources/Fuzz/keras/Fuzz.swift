import FuzzSupport

// libFuzzer's entry point (see Docs/security.md, "Fuzzing"). In the fuzzer build (-DFUZZING)
// main runs libFuzzer on it; a normal build's main replays the files named on the command line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.keras.fuzz(data, size)
}

@main
enum Fuzz {
    static func main() { fuzzMain(.keras, fuzzOneInput) }
}
