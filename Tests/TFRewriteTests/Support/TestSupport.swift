import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Paths and helpers shared by the tests.
enum TestPaths {
    /// The package root (…/Tests/TFRewriteTests/Support/TestSupport.swift → root).
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Fixtures")
    static let corpus = root.deletingLastPathComponent().appendingPathComponent("shared/models")

    static func corpusDirectory(_ sub: String) throws -> URL {
        let dir = corpus.appendingPathComponent(sub)
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw XCTSkip("corpus folder \(dir.path) is absent: skipped")
        }
        return dir
    }

    static func corpusModels() throws -> [URL] {
        let dir = try corpusDirectory("tflite")
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "tflite" }.sorted { $0.path < $1.path }
    }

    static func fixtureModels() -> [URL] {
        let fm = FileManager.default
        guard let e = fm.enumerator(at: fixtures, includingPropertiesForKeys: nil) else { return [] }
        return e.compactMap { $0 as? URL }.filter { $0.pathExtension == "tflite" }.sorted { $0.path < $1.path }
    }

    /// The built `tfrewrite` executable next to the test bundle.
    static var executable: URL {
        var dir = Bundle.main.bundleURL
        for b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") { dir = b.bundleURL.deletingLastPathComponent() }
        let candidate = dir.appendingPathComponent("tfrewrite")
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        return root.appendingPathComponent(".build/debug/tfrewrite")
    }

    /// Library calls read HDF5 through the built tfrewrite's reader child, like the CLI; skips
    /// (visibly) when the executable has not been built.
    static func useHDF5ReaderChild() throws {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw XCTSkip("tfrewrite executable absent at \(executable.path): the HDF5 reader child cannot run")
        }
        HDF5Reader.mode = .childProcess(executable: executable.path)
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tfrewrite-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the CLI with arguments and collects its output.
func runTool(_ args: [String], cwd: URL? = nil) throws -> ProcessResult {
    try runProcess(TestPaths.executable, args, cwd: cwd)
}

/// Runs a program with arguments (and, if given, only `environment`) and collects its output.
func runProcess(_ executable: URL, _ args: [String], cwd: URL? = nil, environment: [String: String]? = nil) throws -> ProcessResult {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    if let cwd { p.currentDirectoryURL = cwd }
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// A small valid float model: input [1,4] → FULLY_CONNECTED(w [3,4], b [3], RELU) → output [1,3].
func tinyFullyConnectedModel() -> Model {
    var m = Model(description: "tiny")
    var g = Graph(name: "main")
    let x = g.addValue(Value(name: "x", type: ElementType(.float32), shape: [1, 4]))
    g.inputs = [x]
    m.subgraphs = [g]
    let w = m.addConstant(ConstantTensor(floats: (0..<12).map { Float($0) * 0.25 - 1 }, shape: [3, 4]), name: "w")
    let b = m.addConstant(ConstantTensor(floats: [0.5, -0.5, 0.25], shape: [3]), name: "b")
    let y = m.subgraphs[0].addValue(Value(name: "y", type: ElementType(.float32), shape: [1, 3]))
    m.subgraphs[0].addOp(Op(kind: .fullyConnected(FullyConnectedAttributes(activation: .relu)), inputs: [x, w, b], outputs: [y]))
    m.subgraphs[0].outputs = [y]
    return m
}
