import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Builds small models for pass tests: values are numbered in the order they are made.
struct PassGraphBuilder {
    var model: Model

    init(name: String = "main") {
        model = Model(description: "test")
        model.subgraphs = [Graph(name: name)]
    }

    var graph: Graph {
        get { model.subgraphs[0] }
        set { model.subgraphs[0] = newValue }
    }

    @discardableResult
    mutating func input(_ name: String, _ type: ElementType, _ shape: [Int32], signature: [Int32]? = nil) -> ValueID {
        let id = graph.addValue(Value(name: name, type: type, shape: shape, shapeSignature: signature))
        graph.inputs.append(id)
        return id
    }

    @discardableResult
    mutating func value(_ name: String, _ type: ElementType, _ shape: [Int32], signature: [Int32]? = nil) -> ValueID {
        graph.addValue(Value(name: name, type: type, shape: shape, shapeSignature: signature))
    }

    @discardableResult
    mutating func constant(_ name: String, _ t: ConstantTensor) -> ValueID {
        model.addConstant(t, name: name)
    }

    @discardableResult
    mutating func ints(_ name: String, _ values: [Int32], shape: [Int32]? = nil) -> ValueID {
        constant(name, ConstantTensor(.int32, shape: shape ?? [Int32(values.count)], values: values))
    }

    mutating func op(_ kind: OpKind, version: Int32 = 1, _ inputs: [ValueID], _ outputs: [ValueID]) {
        graph.addOp(Op(kind: kind, version: version, inputs: inputs, outputs: outputs))
    }

    mutating func output(_ v: ValueID) { graph.outputs.append(v) }
}

func int8Type(_ scale: Float, _ zp: Int64) -> ElementType { ElementType(.int8, quantization: .perTensor(scale: scale, zeroPoint: zp)) }
let float32Type = ElementType(.float32)
let int32Type = ElementType(.int32)


/// Runs passes with the verifier after each and fails the test on any problem.
@discardableResult
func runVerified(_ passes: [any GraphPass], on model: inout Model, context: inout PassContext, file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
    XCTAssertEqual(Verifier.verify(model).map(\.description), [], "the test's input model is not valid", file: file, line: line)
    context.verifyAfterEachPass = true
    var pipeline = Pipeline(passes)
    let changed = try pipeline.run(on: &model, context: &context)
    XCTAssertEqual(Verifier.verify(model).map(\.description), [], file: file, line: line)
    return changed
}

@discardableResult
func runVerified(_ passes: [any GraphPass], on model: inout Model, file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
    var context = PassContext()
    return try runVerified(passes, on: &model, context: &context, file: file, line: line)
}

enum GoldenIR {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Golden/Passes")

    /// Compares "given IR, pass, result IR" with Golden/Passes/<name>.ir.
    /// TFREWRITE_UPDATE_GOLDEN=1 rewrites the file instead (review the diff!).
    static func check(_ name: String, given: Model, passes: String, result: Model, file: StaticString = #filePath, line: UInt = #line) {
        let text = "# given\n" + IRPrinter.print(given) + "# passes: \(passes)\n# result\n" + IRPrinter.print(result)
        let url = directory.appendingPathComponent(name + ".ir")
        if ProcessInfo.processInfo.environment["TFREWRITE_UPDATE_GOLDEN"] == "1" {
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            XCTFail("golden file \(url.path) is missing; run with TFREWRITE_UPDATE_GOLDEN=1 to create it. Output:\n\(text)", file: file, line: line)
            return
        }
        if expected != text {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let t = text.split(separator: "\n", omittingEmptySubsequences: false)
            let k = (0..<min(e.count, t.count)).first { e[$0] != t[$0] } ?? min(e.count, t.count)
            let want = k < e.count ? String(e[k]) : "<end>"
            let got = k < t.count ? String(t[k]) : "<end>"
            XCTFail("\(name).ir differs at line \(k + 1):\n  expected: \(want)\n  actual:   \(got)\nfull output:\n\(text)", file: file, line: line)
        }
    }
}

/// Ops of subgraph 0 by name, in order.
func liveOpNames(_ m: Model) -> [String] { m.subgraphs[0].ops.filter { !$0.isErased }.map(\.name) }

func repairFixture(_ name: String) throws -> Model {
    let url = TestPaths.fixtures.appendingPathComponent(name)
    guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("fixture \(name) absent") }
    return try TFLiteImporter.load(path: url.path)
}

/// A model through export and import, as a runtime would get it.
func exportAndImport(_ m: Model) throws -> Model {
    try TFLiteImporter.decode(ByteStorage(copying: TFLiteExporter.serialize(m).bytes()))
}

/// Every output of `m` run in float on the reference interpreter, one input list per graph input.
func runFloatOutputs(_ m: Model, _ inputs: [[Float]]) throws -> [[Float]] {
    let interpreter = try Interpreter(model: m)
    let tensors = try zip(interpreter.inputs, inputs).map { spec, x in
        guard let t = RuntimeTensor(shape: spec.shape, floats: x) else { throw NpyTestError("input does not fit") }
        return t
    }
    return try interpreter.run(tensors).map { $0.floats ?? [] }
}
