import ArgumentParser
import Foundation
import TFRewrite

/// Ends the process with a code without printing anything more.
struct ToolExit: Error {
    var code: Int32
}

func oneLine(_ error: Error) -> String {
    String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
}

func printError(_ message: String) {
    writeStderr("tfrewrite: \(message)\n")
}

func writeStdout(_ s: String) {
    StandardStreams.write(s, to: 1)
}
