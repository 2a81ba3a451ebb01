import Foundation
import XCTest

import TFRewrite

/// Builds Docs/examples/CustomPass (a separate package depending on this one by path) with
/// `swift build`, runs its executable on a fixture and checks the change its README-level
/// comment documents: micro_speech's passes, then every op output under "kws/".
final class ExamplePackageTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func findOnPath(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    func run(_ executable: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testExamplePackageBuildsAndItsPassRenamesOutputs() throws {
        guard let swift = findOnPath("swift") else {
            throw XCTSkip("swift is not on PATH: cannot build the example package Docs/examples/CustomPass")
        }
        let example = Self.root.appendingPathComponent("Docs/examples/CustomPass")
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("tfrewrite-example-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temp) }
        let scratch = temp.appendingPathComponent("build")

        let start = Date()
        let build = try run(swift, ["build", "--package-path", example.path, "--scratch-path", scratch.path])
        let seconds = Date().timeIntervalSince(start)
        print("ExamplePackageTests: swift build of Docs/examples/CustomPass took \(Int(seconds)) s")
        guard build.status == 0 else {
            return XCTFail("swift build failed (\(build.status)):\n\(build.output.suffix(3000))")
        }

        let fixture = Self.root.appendingPathComponent("Fixtures/micro_speech_int8.tflite").path
        let out = temp.appendingPathComponent("out.tflite").path
        let result = try run(scratch.appendingPathComponent("debug/custom-pass").path, [fixture, out])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("fired: prefix-output-names: 4"), result.output)
        XCTAssertTrue(result.output.contains("fired: conv-to-depthwise: 1"), result.output)

        let before = try TFLiteImporter.load(path: fixture)
        let after = try TFLiteImporter.load(path: out)
        let g = after.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
        for op in g.ops {
            XCTAssertTrue(g[op.outputs[0]].name.hasPrefix("kws/"), g[op.outputs[0]].name)
        }
        let originalOutput = before.subgraphs[0][before.subgraphs[0].outputs[0]].name
        XCTAssertEqual(g[g.outputs[0]].name, "kws/" + originalOutput)
        XCTAssertEqual(g[g.inputs[0]].name, before.subgraphs[0][before.subgraphs[0].inputs[0]].name, "graph inputs keep their names")
    }
}
