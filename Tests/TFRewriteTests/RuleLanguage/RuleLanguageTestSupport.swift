import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Paths and helpers for the rule-language tests.
enum RuleExamples {
    static let directory = TestPaths.root.appendingPathComponent("Rules/examples")
    static let cookbook = directory.appendingPathComponent("cookbook")

    /// The compiled `rules:` of a rules file (loading validates them).
    static func pass(_ file: URL) throws -> CustomRulesPass {
        let set = try RuleSet.load([file.path])
        guard let pass = try DeclarativeRuleCompiler().compile(set.rules) as? CustomRulesPass else {
            throw XCTSkip("the rule compiler did not return a CustomRulesPass")
        }
        return pass
    }

    static func pass(_ name: String) throws -> CustomRulesPass { try pass(directory.appendingPathComponent(name)) }

    /// Compiles rules given as YAML text.
    static func pass(yaml: String, file: String = "test.yaml") throws -> CustomRulesPass {
        let set = try RuleSet.parse(yaml, file: file)
        return try DeclarativeRuleCompiler().compile(set.rules) as! CustomRulesPass
    }

    static func graphDef(_ name: String) -> String {
        TestPaths.fixtures.appendingPathComponent("graphdef/\(name).pb").path
    }

    /// The raw lowering of a fixture GraphDef (before `ImportPipeline`).
    static func rawImport(_ name: String) throws -> Model {
        try ModelLoader.load(path: graphDef(name), options: ModelLoadOptions(runImportPipeline: false))
    }
}

/// The exported bytes of a model.
func serialized(_ m: Model) -> [UInt8] { TFLiteExporter.serialize(m).bytes() }

/// Runs one pass (with the verifier after it) and returns whether it changed the model.
@discardableResult
func runOne(_ pass: any GraphPass, on model: inout Model, context: inout PassContext) throws -> Bool {
    context.verifyAfterEachPass = true
    var p = Pipeline([pass])
    return try p.run(on: &model, context: &context)
}

@discardableResult
func runOne(_ pass: any GraphPass, on model: inout Model) throws -> Bool {
    var c = PassContext()
    return try runOne(pass, on: &model, context: &c)
}

/// Runs a model in the interpreter on seeded random float inputs; returns every output as floats.
func interpret(_ model: Model, seed: UInt64 = 7, samples: Int = 3) throws -> [[Float]] {
    let interpreter = try Interpreter(model: model)
    var rng = SplitMix64(seed: seed)
    var outputs: [[Float]] = []
    for _ in 0..<samples {
        let inputs = try interpreter.inputs.map { info -> RuntimeTensor in
            let n = info.shape.reduce(1, *)
            guard info.dtype == .float32, let t = RuntimeTensor(shape: info.shape, floats: (0..<n).map { _ in Float.random(in: -4...4, using: &rng) }) else {
                throw XCTSkip("interpret(): only float inputs")
            }
            return t
        }
        for o in try interpreter.run(inputs) { outputs.append(o.doubles.map(Float.init)) }
    }
    return outputs
}

/// Builds small models for the rule-language tests (values are numbered in the order made).
struct RuleGraphBuilder {
    var model: Model

    init() {
        model = Model(description: "rule test")
        model.subgraphs = [Graph(name: "main")]
    }

    @discardableResult
    mutating func input(_ name: String, _ type: ElementType, _ shape: [Int32]) -> ValueID {
        let id = model.subgraphs[0].addValue(Value(name: name, type: type, shape: shape))
        model.subgraphs[0].inputs.append(id)
        return id
    }

    @discardableResult
    mutating func value(_ name: String, _ type: ElementType, _ shape: [Int32]) -> ValueID {
        model.subgraphs[0].addValue(Value(name: name, type: type, shape: shape))
    }

    @discardableResult
    mutating func constant(_ name: String, _ t: ConstantTensor) -> ValueID { model.addConstant(t, name: name) }

    mutating func op(_ kind: OpKind, version: Int32 = 1, _ inputs: [ValueID], _ outputs: [ValueID]) {
        model.subgraphs[0].addOp(Op(kind: kind, version: version, inputs: inputs, outputs: outputs))
    }

    mutating func output(_ v: ValueID) { model.subgraphs[0].outputs.append(v) }
}

let ruleF32 = ElementType(.float32)
func ruleI8(_ scale: Float, _ zp: Int64) -> ElementType { ElementType(.int8, quantization: .perTensor(scale: scale, zeroPoint: zp)) }

