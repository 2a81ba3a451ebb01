import Foundation

extension FuzzTarget {
    private static let prepared: Bool = {
        prepare()
        return true
    }()

    /// The body of `LLVMFuzzerTestOneInput`: one input, refusals ignored. Always 0 (libFuzzer
    /// reserves other values).
    public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        _ = Self.prepared
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        _ = try? run(bytes)
        return 0
    }

    /// The normal (non-fuzzer) build's `main`: replays each file named on the command line, or
    /// every file in a named directory, through `run` and says what each did. A crash is the
    /// only failure; a refused input prints its error and still counts as handled.
    public func replayMain(_ arguments: [String] = CommandLine.arguments) -> Never {
        let paths = arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: \(executableName) FILE|DIRECTORY...\n  replays inputs through the \(rawValue) fuzz target (build with -sanitize=fuzzer for libFuzzer)\n".utf8))
            exit(2)
        }
        Self.prepare()
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("\(executableName): error: \(path) does not exist\n".utf8))
                exit(2)
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("\(executableName): error: cannot read \(file)\n".utf8))
                exit(2)
            }
            let outcome: String
            do {
                try run(Array(data))
                outcome = "accepted"
            } catch {
                outcome = "refused: " + String(describing: error).prefix(200).split(separator: "\n").joined(separator: " ")
            }
            print("\(file): \(outcome)")
        }
        exit(0)
    }
}

#if FUZZING
// libFuzzer's driver (compiler-rt FuzzerInterface.h, LLVM ≥ 11). SwiftPM links an executable's
// `main` to the module's own entry point, so the fuzzer build's main calls the driver itself
// instead of using libFuzzer's main.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

/// The fuzz executables' `main`: libFuzzer in a fuzzer build (-DFUZZING), else the replay.
public func fuzzMain(_ target: FuzzTarget, _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    #if FUZZING
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    #else
    target.replayMain()
    #endif
}
