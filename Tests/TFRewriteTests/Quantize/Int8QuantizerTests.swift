import Foundation
import XCTest

@testable import TFRewrite

/// The int8 rewrite on hand-built graphs with given ranges, and on fixtures against TF's own
/// int8 conversion of the same model and calibration set.
final class Int8QuantizerTests: XCTestCase {
    func quantize(_ m: Model, _ ranges: [ValueID: ObservedRange], options: QuantizationOptions = QuantizationOptions(), file: StaticString = #filePath, line: UInt = #line) throws -> (Model, QuantizationSummary) {
        XCTAssertEqual(Verifier.verify(m).map(\.description), [], "input model", file: file, line: line)
        let (q, s) = try Int8Quantizer.quantize(m, ranges: RangeTable(ranges: ranges), options: options)
        XCTAssertEqual(Verifier.verify(q).map(\.description), [], "quantized model", file: file, line: line)
        return (q, s)
    }

    func params(_ v: Value) -> AffineParameters? {
        guard let q = v.quantization, let s = q.scale else { return nil }
        return AffineParameters(scale: s, zeroPoint: Int32(q.zeroPoint ?? 0))
    }

    /// FC (RELU) → SOFTMAX: activations from their ranges, weights symmetric, bias int32 with
    /// the product scale, SOFTMAX output fixed.
    func testFullyConnectedSoftmax() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4])
        let w = b.constant("w", ConstantTensor(floats: [1, -2, 0.5, 0.25, 3, 1, -1, 0, 0.1, 0.2, 0.3, -0.4], shape: [3, 4]))
        let bias = b.constant("b", ConstantTensor(floats: [0.5, -0.25, 0.125], shape: [3]))
        let h = b.value("h", qf32, [1, 3])
        let y = b.value("y", qf32, [1, 3])
        b.op(.fullyConnected(FullyConnectedAttributes(activation: .relu)), [x, w, bias], [h])
        b.op(.softmax(beta: 1), [h], [y])
        b.output(y)
        let ranges = [x: ObservedRange(min: -2, max: 6), h: ObservedRange(min: 0, max: 9), y: ObservedRange(min: 0, max: 1)]
        let (q, summary) = try quantize(b.model, ranges)
        let g = q.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["FULLY_CONNECTED", "SOFTMAX"])
        XCTAssertEqual(summary.quantizedOps, 2)
        XCTAssertEqual(summary.floatOps, [])

        let input = g[g.inputs[0]]
        XCTAssertEqual(input.name, "x")
        XCTAssertEqual(params(input), AffineParameters.asymmetric(min: -2, max: 6))
        let fc = g.ops[0]
        XCTAssertEqual(params(g[fc.outputs[0]]), AffineParameters.asymmetric(min: 0, max: 9))
        XCTAssertEqual(params(g[fc.outputs[0]])?.zeroPoint, -128)
        XCTAssertEqual(params(g[g.outputs[0]]), AffineParameters(scale: 1.0 / 256, zeroPoint: -128))
        // Per-tensor FC weights by default (the spec), max |w| = 3.
        let wq = try XCTUnwrap(g[fc.inputs[1]].quantization)
        XCTAssertEqual(g[fc.inputs[1]].dtype, .int8)
        XCTAssertEqual(wq.scales, [3 / 127])
        let bq = try XCTUnwrap(g[fc.inputs[2]].quantization)
        XCTAssertEqual(g[fc.inputs[2]].dtype, .int32)
        XCTAssertEqual(bq.scales[0], params(input)!.scale * wq.scales[0], accuracy: 1e-12)
        XCTAssertEqual(q.constant(fc.inputs[2])?.scalars(Int32.self).first, Int32((0.5 / Double(bq.scales[0])).rounded()))
        // The old float constants are gone.
        XCTAssertFalse(g.values.contains { $0.dtype == .float32 })
        XCTAssertEqual(summary.inputs.first?.parameters, params(input))
    }

    func testPerChannelFullyConnectedFollowsTheTarget() throws {
        let m = tinyFullyConnectedModel()
        let ranges = [ValueID(0): ObservedRange(min: -1, max: 1), ValueID(3): ObservedRange(min: 0, max: 4)]
        var target = TargetProfile(runtime: "tflm")
        target.quantization.perChannelFullyConnected = true
        let (q, _) = try quantize(m, ranges, options: QuantizationOptions(target: target))
        let g = q.subgraphs[0]
        let w = g[g.ops[0].inputs[1]]
        XCTAssertEqual(w.quantization?.scales.count, 3)
        XCTAssertEqual(w.quantization?.axis, 0)
        XCTAssertEqual(g[g.ops[0].inputs[2]].quantization?.scales.count, 3)
        target.quantization.perChannelFullyConnected = false
        let (p, _) = try quantize(m, ranges, options: QuantizationOptions(target: target))
        XCTAssertEqual(p.subgraphs[0][p.subgraphs[0].ops[0].inputs[1]].quantization?.scales.count, 1)
        let (n, _) = try quantize(m, ranges, options: QuantizationOptions(target: nil))
        XCTAssertEqual(n.subgraphs[0][n.subgraphs[0].ops[0].inputs[1]].quantization?.scales.count, 1)
    }

    /// CONV_2D → MAX_POOL_2D → RESHAPE: the pool and reshape outputs share the conv output's
    /// parameters; conv weights per channel on axis 0; DEPTHWISE on axis 3.
    func testSameScaleOpsShareParameters() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4, 4, 2])
        let w = b.constant("w", ConstantTensor(floats: (0..<(3 * 3 * 3 * 2)).map { Float($0 % 7) - 3 }, shape: [3, 3, 3, 2]))
        let c = b.value("c", qf32, [1, 4, 4, 3])
        let dw = b.constant("dw", ConstantTensor(floats: (0..<(9 * 3)).map { Float($0 % 5) * 0.1 - 0.2 }, shape: [1, 3, 3, 3]))
        let d = b.value("d", qf32, [1, 4, 4, 3])
        let p = b.value("p", qf32, [1, 2, 2, 3])
        let shape = b.ints("shape", [1, 12])
        let r = b.value("r", qf32, [1, 12])
        b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1, activation: .relu6)), [x, w, .absent], [c])
        b.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 1)), [c, dw, .absent], [d])
        b.op(.maxPool2D(Pool2DAttributes(padding: .valid, strideW: 2, strideH: 2, filterW: 2, filterH: 2)), [d], [p])
        b.op(.reshape(newShape: nil), [p, shape], [r])
        b.output(r)
        let ranges = [x: ObservedRange(min: 0, max: 1), c: ObservedRange(min: 0, max: 6), d: ObservedRange(min: -3, max: 5),
                      p: ObservedRange(min: -1, max: 5), r: ObservedRange(min: -1, max: 5)]
        let (q, _) = try quantize(b.model, ranges)
        let g = q.subgraphs[0]
        let expected = AffineParameters.asymmetric(min: -3, max: 5)
        XCTAssertEqual(params(g[g.ops[1].outputs[0]]), expected)
        XCTAssertEqual(params(g[g.ops[2].outputs[0]]), expected)
        XCTAssertEqual(params(g[g.outputs[0]]), expected)
        XCTAssertEqual(g[g.ops[0].inputs[1]].quantization?.axis, 0)
        XCTAssertEqual(g[g.ops[0].inputs[1]].quantization?.scales.count, 3)
        XCTAssertEqual(g[g.ops[1].inputs[1]].quantization?.axis, 3)
        XCTAssertEqual(g[g.ops[1].inputs[1]].quantization?.scales.count, 3)
        // The RESHAPE's int32 shape passes through.
        XCTAssertEqual(g[g.ops[3].inputs[1]].dtype, .int32)
    }

    /// CONCATENATION: both inputs and the output share one set of parameters (the union range).
    func testConcatenationSharesParametersAcrossInputs() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 2])
        let y = b.input("y", qf32, [1, 2])
        let k = b.constant("k", ConstantTensor(floats: [7, -1], shape: [1, 2]))
        let z = b.value("z", qf32, [1, 6])
        b.op(.concatenation(axis: 1, activation: .none), [x, y, k], [z])
        b.output(z)
        let ranges = [x: ObservedRange(min: -1, max: 2), y: ObservedRange(min: 0, max: 5), z: ObservedRange(min: -1, max: 5)]
        let (q, _) = try quantize(b.model, ranges)
        let g = q.subgraphs[0]
        let expected = AffineParameters.asymmetric(min: -1, max: 7)  // the constant widens the group
        for v in g.ops[0].inputs + g.ops[0].outputs { XCTAssertEqual(params(g[v]), expected, g[v].name) }
        let kq = try XCTUnwrap(q.constant(g.ops[0].inputs[2]))
        XCTAssertEqual(kq.scalars(Int8.self).map { expected.dequantize(Int32($0)) }, [7, -1].map { expected.dequantize(expected.quantize($0)) })
    }

    /// A RESHAPE after SOFTMAX keeps the fixed parameters; where SOFTMAX and TANH outputs meet
    /// in one CONCATENATION, one of them is requantized.
    func testFixedParametersPropagateAndConflictsRequantize() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4])
        let s = b.value("s", qf32, [1, 4])
        let t = b.value("t", qf32, [1, 4])
        let shape = b.ints("shape", [4, 1])
        let r = b.value("r", qf32, [4, 1])
        let c = b.value("c", qf32, [1, 8])
        b.op(.softmax(beta: 1), [x], [s])
        b.op(.reshape(newShape: nil), [s, shape], [r])
        b.op(.tanh, [x], [t])
        b.op(.concatenation(axis: 1, activation: .none), [s, t], [c])
        b.output(r)
        b.output(c)
        let ranges = [x: ObservedRange(min: -3, max: 3), s: ObservedRange(min: 0, max: 1), r: ObservedRange(min: 0, max: 1),
                      t: ObservedRange(min: -1, max: 1), c: ObservedRange(min: -1, max: 1)]
        let (q, summary) = try quantize(b.model, ranges)
        let g = q.subgraphs[0]
        XCTAssertEqual(params(g[g.outputs[0]]), .unitInterval)
        XCTAssertEqual(summary.insertedQuantize, 1)
        let concat = try XCTUnwrap(g.ops.first { $0.builtinOperator == .concatenation })
        let p0 = params(g[concat.inputs[0]]), p1 = params(g[concat.inputs[1]])
        XCTAssertEqual(p0, p1)
        XCTAssertEqual(p0, params(g[concat.outputs[0]]))
        XCTAssertTrue(g.ops.contains { $0.builtinOperator == .quantize })
    }

    /// An op without an int8 rule stays float between DEQUANTIZE and QUANTIZE.
    func testUnsupportedOpStaysFloat() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4])
        let a = b.value("a", qf32, [1, 4])
        let s = b.value("s", qf32, [1, 4])
        let y = b.value("y", qf32, [1, 4])
        b.op(.relu, [x], [a])
        b.op(.builtin(.sqrt, options: nil), [a], [s])
        b.op(.relu6, [s], [y])
        b.output(y)
        let ranges = [x: ObservedRange(min: -1, max: 4), a: ObservedRange(min: 0, max: 4), s: ObservedRange(min: 0, max: 2), y: ObservedRange(min: 0, max: 2)]
        let (q, summary) = try quantize(b.model, ranges)
        let g = q.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["RELU", "DEQUANTIZE", "SQRT", "QUANTIZE", "RELU6"])
        XCTAssertEqual(summary.floatOps.count, 1)
        XCTAssertTrue(summary.floatOps[0].hasPrefix("SQRT #1"), summary.floatOps[0])
        let sqrt = g.ops[2]
        XCTAssertEqual(g[sqrt.inputs[0]].dtype, .float32)
        XCTAssertEqual(g[sqrt.outputs[0]].dtype, .float32)
        XCTAssertEqual(params(g[g.ops[3].outputs[0]]), AffineParameters.asymmetric(min: 0, max: 2))
        XCTAssertEqual(g[g.outputs[0]].dtype, .int8)
    }

    /// --float-io: the graph keeps float I/O tensors (same names), QUANTIZE after the input and
    /// DEQUANTIZE before the output, as TF writes it.
    func testFloatIO() throws {
        var m = tinyFullyConnectedModel()
        m.signatureDefs = [SignatureDef(key: "serving_default", inputs: [.init(name: "x", tensor: ValueID(0))], outputs: [.init(name: "y", tensor: ValueID(3))], subgraph: 0)]
        let ranges = [ValueID(0): ObservedRange(min: -1, max: 1), ValueID(3): ObservedRange(min: 0, max: 4)]
        let (q, summary) = try quantize(m, ranges, options: QuantizationOptions(floatIO: true))
        let g = q.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"])
        XCTAssertEqual(g[g.inputs[0]].name, "x")
        XCTAssertEqual(g[g.inputs[0]].dtype, .float32)
        XCTAssertEqual(g[g.outputs[0]].name, "y")
        XCTAssertEqual(g[g.outputs[0]].dtype, .float32)
        XCTAssertEqual(params(g[g.ops[0].outputs[0]]), AffineParameters.asymmetric(min: -1, max: 1))
        XCTAssertEqual(summary.insertedQuantize, 1)
        XCTAssertEqual(summary.insertedDequantize, 1)
        XCTAssertEqual(q.signatureDefs[0].outputs[0].tensor, g.outputs[0])
        XCTAssertEqual(q.signatureDefs[0].inputs[0].tensor, g.inputs[0])
        XCTAssertNil(summary.inputs[0].parameters)
    }

    /// A graph output written by a float op gets a QUANTIZE with int8 I/O; the output keeps
    /// its name.
    func testInt8OutputAfterFloatOp() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4])
        let a = b.value("a", qf32, [1, 4])
        let y = b.value("y", qf32, [1, 4])
        b.op(.relu, [x], [a])
        b.op(.builtin(.sqrt, options: nil), [a], [y])
        b.output(y)
        let (q, _) = try quantize(b.model, [x: ObservedRange(min: -1, max: 4), a: ObservedRange(min: 0, max: 4), y: ObservedRange(min: 0, max: 2)])
        let g = q.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["RELU", "DEQUANTIZE", "SQRT", "QUANTIZE"])
        XCTAssertEqual(g[g.outputs[0]].name, "y")
        XCTAssertEqual(g[g.outputs[0]].dtype, .int8)
        XCTAssertEqual(params(g[g.outputs[0]]), AffineParameters.asymmetric(min: 0, max: 2))
    }

    func testMissingRangeIsAnError() {
        let m = tinyFullyConnectedModel()
        XCTAssertThrowsError(try Int8Quantizer.quantize(m, ranges: RangeTable(ranges: [ValueID(0): ObservedRange(min: 0, max: 1)]), options: QuantizationOptions())) { e in
            XCTAssertEqual("\(e)", "no calibration range for tensor \"y\" (output of FULLY_CONNECTED #0); did calibration run the whole graph?")
        }
        // An int8 model has nothing left to quantize.
        var b = QuantGraphBuilder()
        let x = b.input("x", qi8(0.5, 0), [1, 4])
        let y = b.value("y", qi8(0.5, 0), [1, 4])
        b.op(.relu, [x], [y])
        b.output(y)
        XCTAssertThrowsError(try Int8Quantizer.quantize(b.model, ranges: RangeTable(), options: QuantizationOptions())) { e in
            XCTAssertEqual("\(e)", "nothing to quantize: no op of subgraph 0 has float32 tensors")
        }
    }

    /// TF's own int8 conversion of the micro_speech model, with the same calibration set, is
    /// the reference: same structure, same input parameters, weight scales (per channel for the
    /// conv and, as TF 2.21 writes, for the FC), bias scales, and activation parameters equal
    /// up to float differences between the runtimes that calibrated.
    func testMicroSpeechMatchesTFConversion() throws {
        let float = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path)
        let tf = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path)
        var target = TargetProfile(runtime: "tflm")
        target.quantization.perChannelFullyConnected = true
        let request = PostTrainingQuantizationRequest(calibration: TestPaths.fixtures.appendingPathComponent("calib/micro_speech_calib.npy").path, target: target)
        let result = try PostTrainingQuantization.run(float, request)
        let ours = result.model.subgraphs[0], theirs = tf.subgraphs[0]
        XCTAssertEqual(ours.ops.map(\.name), theirs.ops.map(\.name))
        XCTAssertEqual(ours.ops.map(\.version), theirs.ops.map(\.version))
        for (i, (a, b)) in zip(ours.ops, theirs.ops).enumerated() {
            for (k, (va, vb)) in zip(a.inputs, b.inputs).enumerated() where !va.isAbsent && !vb.isAbsent {
                let x = ours[va], y = theirs[vb]
                XCTAssertEqual(x.dtype, y.dtype, "op \(i) input \(k)")
                guard let qx = x.quantization, let qy = y.quantization else { continue }
                XCTAssertEqual(qx.scales.count, qy.scales.count, "op \(i) input \(k)")
                XCTAssertEqual(qx.axis, qy.axis, "op \(i) input \(k)")
                for (sx, sy) in zip(qx.scales, qy.scales) { XCTAssertEqual(sx, sy, accuracy: sy * 1e-3, "op \(i) input \(k)") }
                XCTAssertEqual(qx.zeroPoints, qy.zeroPoints, "op \(i) input \(k)")
                if result.model.isConstant(x), x.dtype == .int8, let cx = result.model.constant(x), let cy = tf.constant(y) {
                    let dx = zip(cx.scalars(Int8.self), cy.scalars(Int8.self)).map { abs(Int($0) - Int($1)) }.max() ?? 0
                    XCTAssertLessThanOrEqual(dx, 1, "op \(i) weights differ by more than rounding")
                }
            }
            let x = ours[a.outputs[0]], y = theirs[b.outputs[0]]
            XCTAssertEqual(x.dtype, y.dtype)
            if let qx = x.quantization, let qy = y.quantization {
                XCTAssertEqual(qx.scales[0], qy.scales[0], accuracy: qy.scales[0] * 1e-3, "op \(i) output")
                XCTAssertLessThanOrEqual(abs(qx.zeroPoints[0] - qy.zeroPoints[0]), 1, "op \(i) output")
            }
        }
        XCTAssertEqual(ours[ours.inputs[0]].quantization, theirs[theirs.inputs[0]].quantization)
    }

    /// The same quantization as a registered pass, for rules files.
    func testQuantizeInt8Pass() throws {
        let entry = try XCTUnwrap(PassRegistry.entry("quantize-int8"))
        XCTAssertThrowsError(try entry.make(PassOptions([:], location: "r.yaml:3"))) { e in
            XCTAssertEqual("\(e)", "r.yaml:3: pass quantize-int8: option 'calibration': required: a .npy/.npz/folder of samples, or random:N")
        }
        XCTAssertThrowsError(try entry.make(PassOptions(["calibration": .string("x.npy"), "percentil": .double(99)], location: "r.yaml:3")))
        var pass = try entry.make(PassOptions(["calibration": .string(TestPaths.fixtures.appendingPathComponent("calib/micro_speech_calib.npy").path),
                                               "float_io": .bool(true)]))
        var model = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path)
        var target = TargetProfile(runtime: "tflm")
        target.quantization.perChannelFullyConnected = true
        var context = PassContext(target: target)
        XCTAssertTrue(try pass.run(on: &model, context: &context))
        let g = model.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["QUANTIZE", "RESHAPE", "CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX", "DEQUANTIZE"])
        XCTAssertEqual(g.ops.map(\.version), [1, 1, 3, 1, 4, 2, 2])
        XCTAssertEqual(g[g.ops[4].inputs[1]].quantization?.scales.count, 4)
        XCTAssertEqual(context.statistics["quantize-int8"], 5)
    }
}
