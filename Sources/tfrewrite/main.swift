import ArgumentParser
import Foundation
import TFRewrite

// Exit codes: 0 ok, 1 a check found problems, 2 bad input or usage.
var command: ParsableCommand
do {
    command = try Tfrewrite.parseAsRoot()
} catch {
    if Tfrewrite.exitCode(for: error) == .success {
        Tfrewrite.exit(withError: error)  // --help, --version
    }
    FileHandle.standardError.write(Data((Tfrewrite.fullMessage(for: error) + "\n").utf8))
    Foundation.exit(2)
}
do {
    try command.run()
} catch let exit as ToolExit {
    Foundation.exit(exit.code)
} catch {
    FileHandle.standardError.write(Data("tfrewrite: error: \(oneLine(error))\n".utf8))
    Foundation.exit(2)
}
