import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// The rules in Rules/examples/{conv_to_depthwise,fuse_activation,fold_batch_norm}.yaml must
/// produce byte-identical models to the built-in passes they restate, on the fixtures and on
/// hand-built corner cases (shared filters, missing biases, int8, constant on either side).
final class BuiltinEquivalenceTests: XCTestCase {
    /// Runs the built-in pass and the rules on copies of `model`; asserts the same bytes and
    /// returns whether the built-in changed anything.
    @discardableResult
    func assertSame(_ builtin: any GraphPass, _ rules: CustomRulesPass, on model: Model, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
        var a = model, b = model
        let changedA = try runOne(builtin, on: &a)
        let changedB = try runOne(rules, on: &b)
        XCTAssertEqual(changedA, changedB, "\(what): the built-in \(changedA ? "changed" : "did not change") the model, the rules \(changedB ? "did" : "did not")", file: file, line: line)
        let ba = serialized(a), bb = serialized(b)
        if ba != bb {
            XCTFail("\(what): models differ (\(ba.count) vs \(bb.count) bytes)\nbuilt-in:\n\(IRPrinter.print(a))\nrules:\n\(IRPrinter.print(b))", file: file, line: line)
        }
        return changedA
    }

    func testConvToDepthwiseOnFixtures() throws {
        let rules = try RuleExamples.pass("conv_to_depthwise.yaml")
        var changed: [String] = []
        let models = TestPaths.fixtureModels()
        XCTAssertGreaterThan(models.count, 5)
        for url in models {
            let m = try TFLiteImporter.load(path: url.path)
            if try assertSame(try ConvToDepthwise(), rules, on: m, url.lastPathComponent) { changed.append(url.lastPathComponent) }
        }
        for name in ["tiny_conv", "keras_dscnn", "bn_net"] {
            let m = try ModelLoader.load(path: RuleExamples.graphDef(name))
            if try assertSame(try ConvToDepthwise(), rules, on: m, "graphdef/\(name).pb") { changed.append(name) }
        }
        // micro_speech (float, int8), ds_cnn (float, int8), qdq_float_io, tiny_conv, keras_dscnn…
        XCTAssertGreaterThanOrEqual(changed.count, 8, "the pass applied to too few fixtures: \(changed)")
        XCTAssertTrue(changed.contains("micro_speech_int8.tflite"))
    }

    func testFoldBatchNormOnImportedGraphDefs() throws {
        let rules = try RuleExamples.pass("fold_batch_norm.yaml")
        var changed: [String] = []
        for name in ["bn_net", "keras_dscnn", "tiny_conv"] {
            // After constant-fold alone, the rules fold BiasAdd, batch-norm MUL and ADD/SUB.
            var m = try RuleExamples.rawImport(name)
            try runOne(try ConstantFold(), on: &m)
            if try assertSame(try FoldBatchNorm(), rules, on: m, "\(name) after constant-fold") { changed.append(name) }
            // Where the import pipeline runs it: after fold-bias-add.
            try runOne(try FoldBiasAdd(), on: &m)
            if try assertSame(try FoldBatchNorm(), rules, on: m, "\(name) after fold-bias-add") { changed.append(name + "+bias") }
        }
        XCTAssertTrue(changed.contains("bn_net") && changed.contains("keras_dscnn") && changed.contains("bn_net+bias") && changed.contains("keras_dscnn+bias"), "\(changed)")
    }

    func testFuseActivationOnImportedGraphDefs() throws {
        let rules = try RuleExamples.pass("fuse_activation.yaml")
        var changed: [String] = []
        for name in ["bn_net", "keras_dscnn", "tiny_conv"] {
            var m = try RuleExamples.rawImport(name)
            for p: any GraphPass in [try ConstantFold(), try FoldBiasAdd(), try FoldBatchNorm()] { try runOne(p, on: &m) }
            if try assertSame(try FuseActivation(), rules, on: m, name) { changed.append(name) }
        }
        XCTAssertEqual(changed, ["bn_net", "keras_dscnn", "tiny_conv"])
        // Nothing left to fuse in the converted .tflite fixtures: both leave them alone.
        for url in TestPaths.fixtureModels() {
            try assertSame(try FuseActivation(), rules, on: try TFLiteImporter.load(path: url.path), url.lastPathComponent)
        }
    }

    /// The third-party corpus (../shared/models), when present: every .tflite for
    /// conv-to-depthwise and fuse-activation, every GraphDef that imports for the folds.
    func testCorpusWhenPresent() throws {
        let conv = try RuleExamples.pass("conv_to_depthwise.yaml")
        let fuse = try RuleExamples.pass("fuse_activation.yaml")
        let fold = try RuleExamples.pass("fold_batch_norm.yaml")
        let tflite = try TestPaths.corpusModels()
        XCTAssertFalse(tflite.isEmpty)
        for url in tflite {
            guard let m = try? TFLiteImporter.load(path: url.path) else { continue }
            try assertSame(try ConvToDepthwise(), conv, on: m, url.lastPathComponent)
            try assertSame(try FuseActivation(), fuse, on: m, url.lastPathComponent)
        }
        let dir = try TestPaths.corpusDirectory("graphdef")
        var folded = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name.hasSuffix(".pb") {
            // The corpus graphs start with the audio front end: cut it off at Mfcc. Graphs the
            // importer cannot lower (the LSTM's TF1 loop) are not this test's business.
            var options = try ModelLoadOptions(inputs: ["Mfcc"], outputs: [], signature: nil)
            options.runImportPipeline = false
            guard var m = try? ModelLoader.load(path: dir.appendingPathComponent(name).path, options: options) else { continue }
            try runOne(try ConstantFold(), on: &m)
            if try assertSame(try FoldBatchNorm(), fold, on: m, name) { folded += 1 }
            try runOne(try FoldBiasAdd(), on: &m)
            try runOne(try FoldBatchNorm(), on: &m)
            try assertSame(try FuseActivation(), fuse, on: m, name)
        }
        print("BuiltinEquivalenceTests: corpus GraphDefs folded: \(folded)")
        XCTAssertGreaterThanOrEqual(folded, 1, "no corpus GraphDef had a batch norm to fold")
    }

    // MARK: Corner cases on hand-built models

    /// input [1,8,8,1] → CONV_2D(filter [4,3,3,1]) (→ second CONV_2D sharing the filter).
    func convModel(int8: Bool, bias: Bool, sharedFilter: Bool, perChannel: Bool = true) -> Model {
        var g = RuleGraphBuilder()
        let xt: ElementType = int8 ? ruleI8(0.05, -3) : ruleF32
        let x = g.input("x", xt, [1, 8, 8, 1])
        let wq: Quantization? = int8 ? (perChannel ? Quantization(scales: [0.01, 0.02, 0.03, 0.04], zeroPoints: [0, 0, 0, 0], axis: 0) : .perTensor(scale: 0.02, zeroPoint: 0)) : nil
        let w = int8
            ? g.constant("w", ConstantTensor(.int8, shape: [4, 3, 3, 1], values: (0..<36).map { Int8($0 % 17 - 8) }, quantization: wq))
            : g.constant("w", ConstantTensor(floats: (0..<36).map { Float($0) * 0.1 - 1.5 }, shape: [4, 3, 3, 1]))
        var inputs = [x, w]
        if bias {
            let bq = int8 ? Quantization(scales: (wq?.scales ?? [0.02]).map { $0 * 0.05 }, zeroPoints: [0, 0, 0, 0].prefix(wq?.scales.count ?? 1).map { $0 }, axis: 0) : nil
            inputs.append(int8
                ? g.constant("b", ConstantTensor(.int32, shape: [4], values: [Int32(1), -2, 3, -4], quantization: bq))
                : g.constant("b", ConstantTensor(floats: [0.5, -0.5, 0.25, 0], shape: [4])))
        }
        let yt: ElementType = int8 ? ruleI8(0.1, 2) : ruleF32
        let y = g.value("y", yt, [1, 8, 8, 4])
        g.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1, activation: .relu6)), version: int8 ? 3 : 1, inputs, [y])
        g.output(y)
        if sharedFilter {
            let z = g.value("z", yt, [1, 4, 4, 4])
            g.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 2, strideH: 2)), version: int8 ? 3 : 1, inputs, [z])
            g.output(z)
        }
        return g.model
    }

    func testConvToDepthwiseCornerCases() throws {
        let rules = try RuleExamples.pass("conv_to_depthwise.yaml")
        for int8 in [false, true] {
            for bias in [false, true] {
                for shared in [false, true] {
                    let m = convModel(int8: int8, bias: bias, sharedFilter: shared)
                    XCTAssertTrue(try assertSame(try ConvToDepthwise(), rules, on: m, "int8 \(int8) bias \(bias) shared \(shared)"))
                }
            }
        }
        XCTAssertTrue(try assertSame(try ConvToDepthwise(), rules, on: convModel(int8: true, bias: false, sharedFilter: false, perChannel: false), "per-tensor int8"))
        // An int8 input without quantization parameters and no bias: no zero bias fits, so
        // neither applies.
        var g = RuleGraphBuilder()
        let x = g.input("x", ElementType(.int8), [1, 4, 4, 1])
        let w = g.constant("w", ConstantTensor(.int8, shape: [2, 1, 1, 1], values: [Int8(1), 2], quantization: .perTensor(scale: 0.1, zeroPoint: 0)))
        let y = g.value("y", ElementType(.int8), [1, 4, 4, 2])
        g.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), version: 3, [x, w], [y])
        g.output(y)
        XCTAssertFalse(try assertSame(try ConvToDepthwise(), rules, on: g.model, "int8 without scales, no bias"))
    }

    /// x → FC/CONV (no bias) → MUL(c) or MUL(c, x) → ADD/SUB(c2) → y
    func linearModel(fc: Bool, bias: Bool, constantFirst: Bool, sub: Bool, scalar: Bool) -> Model {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleF32, fc ? [1, 6] : [1, 5, 5, 3])
        let w = fc
            ? g.constant("w", ConstantTensor(floats: (0..<24).map { Float($0) * 0.05 - 0.5 }, shape: [4, 6]))
            : g.constant("w", ConstantTensor(floats: (0..<108).map { Float($0 % 13) * 0.1 - 0.6 }, shape: [4, 3, 3, 3]))
        var ins = [x, w]
        if bias { ins.append(g.constant("b", ConstantTensor(floats: [0.1, 0.2, -0.3, 0.4], shape: [4]))) }
        let shape: [Int32] = fc ? [1, 4] : [1, 5, 5, 4]
        let t = g.value("t", ruleF32, shape)
        g.op(fc ? .fullyConnected(FullyConnectedAttributes()) : .conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), ins, [t])
        let m = g.constant("m", scalar ? ConstantTensor(floats: [1.5], shape: []) : ConstantTensor(floats: [0.5, 2, -1, 3], shape: fc ? [4] : [1, 1, 1, 4]))
        let u = g.value("u", ruleF32, shape)
        g.op(.mul(activation: .none), constantFirst ? [m, t] : [t, m], [u])
        let c = g.constant("c", ConstantTensor(floats: [1, -1, 0.5, -0.5], shape: [4]))
        let y = g.value("y", ruleF32, shape)
        g.op(sub ? .sub(ArithmeticAttributes()) : .add(ArithmeticAttributes()), constantFirst && !sub ? [c, u] : [u, c], [y])
        g.output(y)
        return g.model
    }

    func testFoldBatchNormCornerCases() throws {
        let rules = try RuleExamples.pass("fold_batch_norm.yaml")
        for fc in [false, true] {
            for bias in [false, true] {
                for constantFirst in [false, true] {
                    for sub in [false, true] {
                        for scalar in [false, true] {
                            let m = linearModel(fc: fc, bias: bias, constantFirst: constantFirst, sub: sub, scalar: scalar)
                            XCTAssertTrue(try assertSame(try FoldBatchNorm(), rules, on: m, "fc \(fc) bias \(bias) constantFirst \(constantFirst) sub \(sub) scalar \(scalar)"))
                        }
                    }
                }
            }
        }
    }
}
