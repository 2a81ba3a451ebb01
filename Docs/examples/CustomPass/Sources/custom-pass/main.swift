import Foundation
import TFRewrite

// custom-pass IN.tflite OUT.tflite [RULES...]
//
// Runs the passes of the rules (default: micro_speech, which rewrites the 1-channel CONV_2D as
// DEPTHWISE_CONV_2D for the micro_speech firmware), then this package's own pass, and writes
// the result. The pass is also registered by name, so rules files loaded afterwards can list it.
let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: custom-pass IN.tflite OUT.tflite [RULES...]\n".utf8))
    exit(2)
}
PassRegistry.register(PrefixOutputNames.self) { try PrefixOutputNames(options: $0) }

do {
    let rules = arguments.count > 3 ? Array(arguments[3...]) : ["micro_speech"]
    let context = try Conversion.convert(input: arguments[1], output: arguments[2], rules: rules, extraPasses: [PrefixOutputNames()])
    for line in Conversion.statisticsLines(context) { print("fired: \(line)") }
    let model = try TFLiteImporter.load(path: arguments[2])
    print("ops: " + model.subgraphs[0].ops.map(\.name).joined(separator: ", "))
} catch {
    FileHandle.standardError.write(Data("custom-pass: error: \(error)\n".utf8))
    exit(2)
}
