import FlatBuffers
import Foundation
import TestSupport
import XCTest

@testable import TFRewrite

/// The import passes on small hand-built graphs: the printed IR after each, and — where a
/// rewrite must keep the meaning — the same outputs before and after on random inputs
/// (reference interpreter).
final class ImportPassTests: XCTestCase {
    /// Builds a one-subgraph float model step by step.
    struct Builder {
        var model = Model()
        var rng = SplitMix64(seed: 7)
        init() { model.subgraphs = [Graph(name: "main")] }

        mutating func input(_ name: String, _ shape: [Int32]) -> ValueID {
            let v = model.subgraphs[0].addValue(Value(name: name, type: ElementType(.float32), shape: shape))
            model.subgraphs[0].inputs.append(v)
            return v
        }
        mutating func const(_ name: String, _ values: [Float], _ shape: [Int32]) -> ValueID {
            model.addConstant(ConstantTensor(floats: values, shape: shape), name: name)
        }
        mutating func random(_ name: String, _ shape: [Int32]) -> ValueID {
            let n = shape.reduce(1) { $0 * Int($1) }
            return const(name, (0..<n).map { _ in rng.nextFloat() * 2 - 1 }, shape)
        }
        @discardableResult
        mutating func op(_ kind: OpKind, _ inputs: [ValueID], _ name: String, _ shape: [Int32]) -> ValueID {
            let v = model.subgraphs[0].addValue(Value(name: name, type: ElementType(.float32), shape: shape))
            model.subgraphs[0].addOp(Op(kind: kind, inputs: inputs, outputs: [v], provenance: [name]))
            return v
        }
        mutating func output(_ v: ValueID) { model.subgraphs[0].outputs.append(v) }
    }

    /// Runs `pass`, verifies the IR, and checks outputs against the model before on 8 random inputs.
    @discardableResult
    func runPreservingMeaning(_ pass: any GraphPass, on before: Model, file: StaticString = #filePath, line: UInt = #line) throws -> Model {
        var after = before
        var p = pass
        var context = PassContext()
        context.verifyAfterEachPass = true
        _ = try p.run(on: &after, context: &context)
        ImportPipeline.removeDeadCode(&after)
        XCTAssertEqual(Verifier.verify(after), [], file: file, line: line)
        var rng = SplitMix64(seed: 99)
        let shape = before.subgraphs[0][before.subgraphs[0].inputs[0]].shape
        let n = shape.reduce(1) { $0 * Int($1) }
        let inputs = (0..<8).map { _ in (0..<n).map { _ in rng.nextFloat() * 4 - 2 } }
        let diff = maxAbsDifference(try runFloatModel(before, inputs: inputs), try runFloatModel(after, inputs: inputs))
        XCTAssertLessThan(diff, 1e-5, "outputs changed by \(diff)", file: file, line: line)
        return after
    }

    func ops(_ m: Model) -> String {
        IRPrinter.print(m).split(separator: "\n").filter { $0.contains(" #") }.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
    }

    // MARK: fold-bias-add

    func testFoldBiasAddIntoFullyConnected() throws {
        var b = Builder()
        let x = b.input("x", [1, 8])
        let w = b.random("w", [4, 8])
        let y = b.op(.fullyConnected(FullyConnectedAttributes()), [x, w, .absent], "MatMul", [1, 4])
        let c = b.const("b", [0.5, -1, 0, 2], [4])
        b.output(b.op(.add(ArithmeticAttributes()), [y, c], "BiasAdd", [1, 4]))
        let after = try runPreservingMeaning(try FoldBiasAdd(), on: b.model)
        XCTAssertEqual(ops(after), "#0 FULLY_CONNECTED v1 (%0, %1, %3) -> %2 \"BiasAdd\": f32[1,4]")
        XCTAssertEqual(after.constant(after.subgraphs[0].ops[0].inputs[2])?.floats, [0.5, -1, 0, 2])
    }

    func testFoldSubAndScalarIntoConvBias() throws {
        var b = Builder()
        let x = b.input("x", [1, 5, 5, 2])
        let conv = b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [x, b.random("w", [3, 3, 3, 2]), b.const("b", [1, 2, 3], [3])], "conv", [1, 5, 5, 3])
        let s = b.op(.sub(ArithmeticAttributes()), [conv, b.const("c", [0.25, 0.5, 1], [1, 1, 1, 3])], "sub", [1, 5, 5, 3])
        b.output(b.op(.add(ArithmeticAttributes()), [b.const("k", [2], []), s], "add", [1, 5, 5, 3]))
        let after = try runPreservingMeaning(try FoldBiasAdd(), on: b.model)
        XCTAssertEqual(opNames(after), ["CONV_2D"])
        XCTAssertEqual(after.constant(after.subgraphs[0].ops[0].inputs[2])?.floats, [2.75, 3.5, 4])
        XCTAssertEqual(after.subgraphs[0].ops[0].provenance, ["conv", "sub", "add"])
    }

    func testFoldBiasAddLeavesWhatItCannotFold() throws {
        var b = Builder()
        let x = b.input("x", [1, 4])
        let y = b.op(.fullyConnected(FullyConnectedAttributes()), [x, b.random("w", [3, 4]), .absent], "fc", [1, 3])
        // Two readers of the FC output, a constant that varies along the batch, c − x.
        let a1 = b.op(.add(ArithmeticAttributes()), [y, b.const("c1", [1, 2, 3], [3])], "a1", [1, 3])
        let a2 = b.op(.sub(ArithmeticAttributes()), [b.const("c2", [1, 2, 3], [3]), y], "a2", [1, 3])
        b.output(a1)
        b.output(a2)
        var m = b.model
        var context = PassContext()
        var pass = try FoldBiasAdd()
        XCTAssertFalse(try pass.run(on: &m, context: &context))
        XCTAssertEqual(m, b.model)
    }

    // MARK: fold-batch-norm

    func testFoldBatchNormIntoConvAndDepthwise() throws {
        var b = Builder()
        let x = b.input("x", [1, 6, 6, 2])
        let conv = b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [x, b.random("w", [4, 3, 3, 2]), b.random("b", [4])], "conv", [1, 6, 6, 4])
        let m1 = b.op(.mul(activation: .none), [conv, b.const("m", [0.5, 2, -1, 3], [4])], "bn/mul", [1, 6, 6, 4])
        let s1 = b.op(.add(ArithmeticAttributes()), [m1, b.const("s", [0.1, 0.2, 0.3, 0.4], [4])], "bn", [1, 6, 6, 4])
        let dw = b.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .valid, strideW: 1, strideH: 1, depthMultiplier: 2)), [s1, b.random("dw", [1, 3, 3, 8]), b.random("db", [8])], "dw", [1, 4, 4, 8])
        let m2 = b.op(.mul(activation: .none), [b.const("m2", (0..<8).map { Float($0) * 0.25 - 1 }, [8]), dw], "bn2/mul", [1, 4, 4, 8])
        b.output(b.op(.add(ArithmeticAttributes()), [m2, b.random("s2", [8])], "bn2", [1, 4, 4, 8]))
        let after = try runPreservingMeaning(try FoldBatchNorm(), on: b.model)
        XCTAssertEqual(opNames(after), ["CONV_2D", "DEPTHWISE_CONV_2D"])
        XCTAssertEqual(after.subgraphs[0].ops[1].provenance, ["dw", "bn2/mul", "bn2"])
    }

    func testFoldBatchNormIntoFullyConnectedKeepsSharedWeights() throws {
        var b = Builder()
        let x = b.input("x", [1, 3])
        let w = b.random("w", [2, 3])
        let f1 = b.op(.fullyConnected(FullyConnectedAttributes()), [x, w, .absent], "fc1", [1, 2])
        let f2 = b.op(.fullyConnected(FullyConnectedAttributes()), [x, w, .absent], "fc2", [1, 2])
        let m = b.op(.mul(activation: .none), [f1, b.const("m", [3, -2], [1, 2])], "mul", [1, 2])
        b.output(b.op(.add(ArithmeticAttributes()), [m, f2], "sum", [1, 2]))
        let before = b.model
        let after = try runPreservingMeaning(try FoldBatchNorm(), on: before)
        XCTAssertEqual(opNames(after), ["FULLY_CONNECTED", "FULLY_CONNECTED", "ADD"])
        let g = after.subgraphs[0]
        // fc1 got new weights; fc2 still reads the original ones.
        XCTAssertNotEqual(g.ops[0].inputs[1], g.ops[1].inputs[1])
        XCTAssertEqual(after.constant(g.ops[1].inputs[1]), before.constant(w))
    }

    func testFoldBatchNormNeedsPerChannelFactor() throws {
        var b = Builder()
        let x = b.input("x", [2, 3])
        let f = b.op(.fullyConnected(FullyConnectedAttributes(activation: .relu)), [x, b.random("w", [3, 3]), .absent], "fc", [2, 3])
        b.output(b.op(.mul(activation: .none), [f, b.const("m", [1, 2, 3], [3])], "mul", [2, 3]))
        var m = b.model
        var context = PassContext()
        var pass = try FoldBatchNorm()
        XCTAssertFalse(try pass.run(on: &m, context: &context), "a fused RELU sits between the FC and the MUL")
    }

    // MARK: fuse-activation

    func testFuseActivation() throws {
        var b = Builder()
        let x = b.input("x", [1, 4, 4, 2])
        let conv = b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [x, b.random("w", [2, 1, 1, 2]), b.random("b", [2])], "conv", [1, 4, 4, 2])
        let r6 = b.op(.relu6, [conv], "Relu6", [1, 4, 4, 2])
        let pool = b.op(.maxPool2D(Pool2DAttributes(padding: .valid, strideW: 2, strideH: 2, filterW: 2, filterH: 2)), [r6], "pool", [1, 2, 2, 2])
        b.output(b.op(.relu, [pool], "relu", [1, 2, 2, 2]))
        let after = try runPreservingMeaning(try FuseActivation(), on: b.model)
        XCTAssertEqual(ops(after), """
            #0 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1, act=RELU6} (%0, %1, %2) -> %3 "Relu6": f32[1,4,4,2]
            #1 MAX_POOL_2D v1 {padding=VALID, stride=2x2, filter=2x2, act=RELU} (%3) -> %4 "relu": f32[1,2,2,2]
            """)
    }

    func testFuseReluN1To1() throws {
        // The interpreter has no RELU_N1_TO_1 kernel: structure only.
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "c": f32[1] = [1.0]
              #0 SUB v1 (%0, %1) -> %2 "sub": f32[1,4]
              #1 RELU_N1_TO_1 v1 (%2) -> %3 "clip": f32[1,4]
              output %3
            """)
        var context = PassContext()
        var pass = try FuseActivation()
        XCTAssertTrue(try pass.run(on: &m, context: &context))
        XCTAssertEqual(opNames(m), ["SUB"])
        XCTAssertEqual(m.subgraphs[0].ops[0].kind.fusedActivation, .reluN1To1)
        XCTAssertEqual(m.subgraphs[0][m.subgraphs[0].ops[0].outputs[0]].name, "clip")
        XCTAssertEqual(IRPrinter.print(m), """
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "c": f32[1] = [1.0]
              #0 SUB v1 {act=RELU_N1_TO_1} (%0, %1) -> %3 "clip": f32[1,4]
              output %3

            """)
    }

    func testFuseActivationNeedsASingleReader() throws {
        let given = """
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "w": f32[4,4] = [0.5, -0.25, 1.0, 0.0, -1.0, 0.75, 0.125, -0.5, 0.25, 0.5, -0.75, 1.0, 0.0, -0.125, 0.5, 0.25]
              #0 FULLY_CONNECTED v1 (%0, %1, %none) -> %2 "fc": f32[1,4]
              #1 RELU v1 (%2) -> %3 "relu": f32[1,4]
              output %3
              output %2

            """
        var m = try IRParser.parse(given)
        var context = PassContext()
        var pass = try FuseActivation()
        XCTAssertFalse(try pass.run(on: &m, context: &context))
        XCTAssertEqual(IRPrinter.print(m), given)
    }

    // MARK: constant-fold

    func testConstantFoldBatchNormFactors() throws {
        var b = Builder()
        let x = b.input("x", [1, 2])
        let added = b.op(.add(ArithmeticAttributes()), [b.const("var", [3, 0], [2]), b.const("eps", [1], [])], "bn/add", [2])
        let r = b.op(.builtin(.rsqrt, options: nil), [added], "bn/Rsqrt", [2])
        b.output(b.op(.mul(activation: .none), [x, r], "y", [1, 2]))
        let after = try runPreservingMeaning(try ConstantFold(), on: b.model)
        XCTAssertEqual(opNames(after), ["MUL"])
        XCTAssertEqual(after.constant(after.subgraphs[0].ops[0].inputs[1])?.floats, [0.5, 1])
        XCTAssertEqual(after.subgraphs[0][after.subgraphs[0].ops[0].inputs[1]].name, "bn/Rsqrt")
    }

    /// DIV carries its fused activation in DivOptions (schema.fbs); folding must apply it, as
    /// the interpreter and the runtimes do.
    func testConstantFoldKeepsDivActivation() throws {
        var b = Builder()
        let x = b.input("x", [1, 4])
        let reluOptions = OpaqueOptions(typeTag: 29, vtable: [4], inline: [1, 0, 0, 0], alignmentPhase: 0)
        let q = b.op(.builtin(.div, options: reluOptions), [b.const("n", [3, -3, 1, -1], [4]), b.const("d", [2], [1])], "q", [4])
        b.output(b.op(.mul(activation: .none), [x, q], "y", [1, 4]))
        let after = try runPreservingMeaning(try ConstantFold(), on: b.model)
        XCTAssertEqual(opNames(after), ["MUL"])
        XCTAssertEqual(after.constant(after.subgraphs[0].ops[0].inputs[1])?.floats, [1.5, 0, 0.5, 0])
        // An activation code schema.fbs does not define is not folded (no guess).
        let undefined = OpaqueOptions(typeTag: 29, vtable: [4], inline: [99, 0, 0, 0], alignmentPhase: 0)
        let n = ConstantTensor(floats: [1], shape: [1])
        XCTAssertNil(ConstantEvaluator.evaluate(.builtin(.div, options: undefined), inputs: [n, n],
                                                outputs: [Value(name: "q", type: ElementType(.float32), shape: [1])]))
    }

    func testConstantFoldShapeChain() throws {
        // Keras Flatten with a static batch: RESHAPE(x, PACK(STRIDED_SLICE(SHAPE(x)), -1)).
        var b = Builder()
        let x = b.input("x", [1, 3, 4])
        let shapeValue = b.model.subgraphs[0].addValue(Value(name: "shape", type: ElementType(.int32), shape: [3]))
        b.model.subgraphs[0].addOp(Op(kind: .shape(outType: .int32), inputs: [x], outputs: [shapeValue]))
        let ints = { (name: String, v: [Int32]) in b.model.addConstant(ConstantTensor(.int32, shape: [Int32(v.count)], values: v), name: name) }
        let begin = ints("begin", [0]), end = ints("end", [1]), strides = ints("strides", [1])
        let batch = b.model.subgraphs[0].addValue(Value(name: "batch", type: ElementType(.int32), shape: []))
        b.model.subgraphs[0].addOp(Op(kind: .stridedSlice(StridedSliceAttributes(shrinkAxisMask: 1)), inputs: [shapeValue, begin, end, strides], outputs: [batch]))
        let minusOne = b.model.addConstant(ConstantTensor(.int32, shape: [], values: [Int32(-1)]), name: "m1")
        let packed = b.model.subgraphs[0].addValue(Value(name: "packed", type: ElementType(.int32), shape: [2]))
        b.model.subgraphs[0].addOp(Op(kind: .pack(valuesCount: 2, axis: 0), inputs: [batch, minusOne], outputs: [packed]))
        b.output(b.op(.reshape(newShape: nil), [x, packed], "flat", [1, 12]))
        let after = try runPreservingMeaning(try ConstantFold(), on: b.model)
        XCTAssertEqual(opNames(after), ["RESHAPE"])
        XCTAssertEqual(after.constant(after.subgraphs[0].ops[0].inputs[1])?.integers, [1, -1])
    }

    func testConstantEvaluatorBuildingBlocks() throws {
        let a = ConstantTensor(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        let row = ConstantTensor(floats: [10, 20, 30], shape: [3])
        XCTAssertEqual(ConstantEvaluator.binary(a, row, .add)?.floats, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual(ConstantEvaluator.binary(a, ConstantTensor(floats: [1, 2], shape: [2, 1]), .mul)?.floats, [1, 2, 3, 8, 10, 12])
        XCTAssertNil(ConstantEvaluator.binary(a, ConstantTensor(floats: [1, 2], shape: [2]), .add))
        XCTAssertEqual(ConstantEvaluator.concatenate([a, a], axis: -1)?.shape, [2, 6])
        XCTAssertEqual(ConstantEvaluator.concatenate([a, row.reshaped([1, 3])], axis: 0)?.floats, [1, 2, 3, 4, 5, 6, 10, 20, 30])
        XCTAssertEqual(ConstantEvaluator.pack([row, row], axis: 1)?.shape, [3, 2])
        XCTAssertEqual(ConstantEvaluator.cast(ConstantTensor(floats: [-1.7, 2.9], shape: [2]), to: .int32)?.integers, [-1, 2])
        // Negative stride with masks: x[::-2] of 0...6, and x[1, :] with shrink.
        let seq = ConstantTensor(.int32, shape: [7], values: (0..<7).map(Int32.init))
        let g = try StridedSliceGeometry(shape: [7], begin: [0], end: [0], strides: [-2], attributes: StridedSliceAttributes(beginMask: 1, endMask: 1))
        XCTAssertEqual(g.apply(to: seq).integers, [6, 4, 2, 0])
        let g2 = try StridedSliceGeometry(shape: [2, 3], begin: [1, 0], end: [2, 0], strides: [1, 1], attributes: StridedSliceAttributes(endMask: 2, shrinkAxisMask: 1))
        XCTAssertEqual(g2.outputShape, [3])
        XCTAssertEqual(g2.apply(to: a).floats, [4, 5, 6])
        let g3 = try StridedSliceGeometry(shape: [2, 3], begin: [0, -1], end: [0, 0], strides: [1, 1], attributes: StridedSliceAttributes(ellipsisMask: 1, newAxisMask: 0, shrinkAxisMask: 2))
        XCTAssertEqual(g3.apply(to: a).floats, [3, 6])
        XCTAssertThrowsError(try StridedSliceGeometry(shape: [3], begin: [5], end: [6], strides: [1], attributes: StridedSliceAttributes(shrinkAxisMask: 1)))
    }

    // MARK: simplify-reshapes and fuse-pad-into-conv

    func testSimplifyReshapes() throws {
        var b = Builder()
        let x = b.input("x", [1, 49, 10])
        let r1 = b.op(.reshape(newShape: nil), [x, b.model.addConstant(ConstantTensor(.int32, shape: [2], values: [Int32(1), 490]), name: "s1")], "Reshape", [1, 490])
        let r2 = b.op(.reshape(newShape: nil), [r1, b.model.addConstant(ConstantTensor(.int32, shape: [4], values: [Int32(1), 49, 10, 1]), name: "s2")], "Reshape_1", [1, 49, 10, 1])
        let flat = b.op(.reshape(newShape: nil), [r2, b.model.addConstant(ConstantTensor(.int32, shape: [2], values: [Int32(1), 490]), name: "s3")], "flatten", [1, 490])
        b.output(b.op(.fullyConnected(FullyConnectedAttributes()), [flat, b.random("w", [3, 490]), .absent], "fc", [1, 3]))
        let after = try runPreservingMeaning(try SimplifyReshapes(), on: b.model)
        XCTAssertEqual(opNames(after), ["FULLY_CONNECTED"], "the chain collapses, and FULLY_CONNECTED flattens by itself")
        XCTAssertEqual(after.subgraphs[0].ops[0].inputs[0], after.subgraphs[0].inputs[0])
    }

    func testFusePadIntoConvolution() throws {
        var b = Builder()
        let x = b.input("x", [1, 8, 8, 2])
        let pads = b.model.addConstant(ConstantTensor(.int32, shape: [4, 2], values: [Int32(0), 0, 0, 1, 0, 1, 0, 0]), name: "pads")
        let padded = b.op(.pad, [x, pads], "pad", [1, 9, 9, 2])
        let dw = b.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .valid, strideW: 2, strideH: 2, depthMultiplier: 1)), [padded, b.random("w", [1, 3, 3, 2]), b.random("b", [2])], "dw", [1, 4, 4, 2])
        // (1,1) padding before a stride-1 3×3 VALID conv equals SAME too; (0,1) before a stride-1 conv does not.
        let pads2 = b.model.addConstant(ConstantTensor(.int32, shape: [4, 2], values: [Int32(0), 0, 1, 1, 0, 1, 0, 0]), name: "pads2")
        let padded2 = b.op(.pad, [dw, pads2], "pad2", [1, 6, 5, 2])
        b.output(b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), [padded2, b.random("w2", [2, 3, 3, 2]), b.random("b2", [2])], "conv", [1, 4, 3, 2]))
        let after = try runPreservingMeaning(try FusePadIntoConvolution(), on: b.model)
        XCTAssertEqual(opNames(after), ["DEPTHWISE_CONV_2D", "PAD", "CONV_2D"])
        guard case .depthwiseConv2D(let a) = after.subgraphs[0].ops[0].kind else { return XCTFail() }
        XCTAssertEqual(a.padding, .same)
    }

    // MARK: fold-input-scale

    /// x/255 feeding a SAME conv, a depthwise conv (multiplier 2) and, flattened, a
    /// FULLY_CONNECTED: the DIV goes into all three weights (the same outputs on random
    /// inputs, padding included); a per-channel MUL folds into the conv's input-channel axis.
    func testFoldInputScaleIntoEveryReader() throws {
        var b = Builder()
        let x = b.input("x", [1, 5, 5, 2])
        let scaled = b.op(.builtin(.div, options: nil), [x, b.const("255", [255], [])], "truediv", [1, 5, 5, 2])
        b.output(b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 2, strideH: 2)), [scaled, b.random("w", [3, 3, 3, 2]), b.random("b", [3])], "conv", [1, 3, 3, 3]))
        b.output(b.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 2)), [scaled, b.random("dw", [1, 3, 3, 4]), b.random("db", [4])], "dw", [1, 5, 5, 4]))
        b.output(b.op(.fullyConnected(FullyConnectedAttributes()), [scaled, b.random("fw", [3, 50]), .absent], "fc", [1, 3]))
        let after = try runPreservingMeaning(try FoldInputScale(), on: b.model)
        XCTAssertEqual(opNames(after), ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
        let g = after.subgraphs[0]
        XCTAssertTrue(g.ops.allSatisfy { $0.inputs[0] == g.inputs[0] })
        XCTAssertEqual(g.ops[0].provenance, ["conv", "truediv"])

        var c = Builder()
        let y = c.input("y", [1, 4, 4, 3])
        let m = c.op(.mul(activation: .none), [c.const("std", [0.5, 2, -4], [3]), y], "normalize", [1, 4, 4, 3])
        c.output(c.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), [m, c.random("w", [2, 3, 3, 3]), c.random("b", [2])], "conv", [1, 2, 2, 2]))
        XCTAssertEqual(opNames(try runPreservingMeaning(try FoldInputScale(), on: c.model)), ["CONV_2D"])
    }

    /// What must stay: a scaled value another kind of op also reads, a graph output, a
    /// divisor of zero, a constant dividend (c / x), a fused activation, weights read by two
    /// convolutions (each gets its own copy; the original is unchanged).
    func testFoldInputScaleLeavesWhatItCannotFold() throws {
        func folds(_ build: (inout Builder, ValueID) -> Void) throws -> Bool {
            var b = Builder()
            let x = b.input("x", [1, 4, 4, 2])
            build(&b, x)
            var m = b.model
            var context = PassContext()
            var pass = try FoldInputScale()
            return try pass.run(on: &m, context: &context)
        }
        let conv = { (b: inout Builder, v: ValueID) in
            b.output(b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [v, b.random("w", [2, 1, 1, 2]), .absent], "conv", [1, 4, 4, 2]))
        }
        XCTAssertFalse(try folds { b, x in
            let s = b.op(.builtin(.div, options: nil), [x, b.const("c", [2], [])], "div", [1, 4, 4, 2])
            conv(&b, s)
            b.output(b.op(.relu, [s], "relu", [1, 4, 4, 2]))
        })
        XCTAssertFalse(try folds { b, x in
            let s = b.op(.builtin(.div, options: nil), [x, b.const("c", [2], [])], "div", [1, 4, 4, 2])
            conv(&b, s)
            b.output(s)
        })
        XCTAssertFalse(try folds { b, x in conv(&b, b.op(.builtin(.div, options: nil), [x, b.const("c", [0, 1], [2])], "div", [1, 4, 4, 2])) })
        XCTAssertFalse(try folds { b, x in conv(&b, b.op(.builtin(.div, options: nil), [b.const("c", [2], []), x], "div", [1, 4, 4, 2])) })
        XCTAssertFalse(try folds { b, x in conv(&b, b.op(.mul(activation: .relu), [x, b.const("c", [2], [])], "mul", [1, 4, 4, 2])) })
        XCTAssertTrue(try folds { b, x in conv(&b, b.op(.mul(activation: .none), [x, b.const("c", [2], [])], "mul", [1, 4, 4, 2])) })

        var b = Builder()
        let x = b.input("x", [1, 4, 4, 2])
        let s = b.op(.mul(activation: .none), [x, b.const("c", [3], [1])], "mul", [1, 4, 4, 2])
        let w = b.random("w", [2, 1, 1, 2])
        b.output(b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [s, w, .absent], "c1", [1, 4, 4, 2]))
        b.output(b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), [s, w, .absent], "c2", [1, 4, 4, 2]))
        let before = b.model
        let after = try runPreservingMeaning(try FoldInputScale(), on: before)
        let g = after.subgraphs[0]
        XCTAssertEqual(opNames(after), ["CONV_2D", "CONV_2D"])
        XCTAssertNotEqual(g.ops[0].inputs[1], g.ops[1].inputs[1])
        XCTAssertEqual(after.constant(g.ops[0].inputs[1])?.floats, before.constant(w)?.floats.map { $0 * 3 })
    }

    func testImportPipelineIsRegisteredInOrder() throws {
        XCTAssertEqual(ImportPipeline.standardPassNames.map(\.name), ["constant-fold", "fold-bias-add", "fold-batch-norm", "fold-through-reshape", "fuse-activation", "fuse-pad-into-conv", "fold-input-scale", "fold-input-normalization", "simplify-reshapes"])
        for n in ImportPipeline.standardPassNames { XCTAssertNotNil(PassRegistry.entry(n.name), n.name) }
        XCTAssertThrowsError(try PassRegistry.entry("fold-batch-norm")!.make(PassOptions(["x": .int(1)], location: "r.yaml:3")))
    }
}

extension SplitMix64 {
    /// Uniform in [0, 1) with 24 bits, for weights and inputs of the hand-built graphs.
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
