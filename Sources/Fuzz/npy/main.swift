import FuzzSupport

// libFuzzer's entry point (see Docs/security.md, "Fuzzing"). The fuzzer build compiles with
// -parse-as-library -DFUZZING, so libFuzzer's main runs; a normal build replays files.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.npy.fuzz(data, size)
}

#if !FUZZING
FuzzTarget.npy.replayMain()
#endif
