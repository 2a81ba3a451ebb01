import ArgumentParser
import Foundation
import TFRewrite

// Exit codes: 0 ok, 1 a check found problems, 2 bad input or usage.
func fail(_ error: Error) -> Never {
    // --help and --version arrive as errors whose exit code is success.
    if Tfrewrite.exitCode(for: error) == .success { Tfrewrite.exit(withError: error) }
    if error is ToolExit { Foundation.exit((error as! ToolExit).code) }
    let text: String
    if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") || error is ValidationError {
        // One line, like every other error; --help has the full usage.
        let message = FlagSuggestion.completing(Tfrewrite.message(for: error).split(whereSeparator: \.isNewline).joined(separator: " "))
        text = "tfrewrite: error: \(message) (see tfrewrite --help)"
    } else {
        text = "tfrewrite: error: \(oneLine(error))"
    }
    writeStderr(text + "\n")
    Foundation.exit(2)
}

// The HDF5 reader child (HDF5Reader): libhdf5 runs only there, never on untrusted bytes in this process.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == HDF5Reader.subcommand {
    HDF5ReaderChild.run(arguments: Array(CommandLine.arguments.dropFirst(2)))
}
StandardStreams.occupyClosedDescriptors()
if let executable = HDF5Reader.currentExecutable() { HDF5Reader.mode = .childProcess(executable: executable) }
do {
    var command = try Tfrewrite.parseAsRoot()
    try command.run()
} catch {
    fail(error)
}
