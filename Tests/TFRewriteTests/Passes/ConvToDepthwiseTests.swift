import XCTest

@testable import TFRewrite

final class ConvToDepthwiseTests: XCTestCase {
    /// micro_speech's first layer in miniature: int8, per-channel filter, bias, RELU.
    func int8Conv(outChannels o: Int32 = 3, inChannels c: Int32 = 1) -> Model {
        var b = PassGraphBuilder()
        let x = b.input("x", int8Type(0.1, -128), [1, 5, 4, c])
        let n = Int(o) * 2 * 2 * Int(c)
        let scales = (0..<Int(o)).map { Float($0 + 1) * 0.01 }
        let w = b.constant("w", ConstantTensor(.int8, shape: [o, 2, 2, c], values: (0..<n).map { Int8($0 % 200 - 100) }, quantization: Quantization(scales: scales, zeroPoints: Array(repeating: 0, count: Int(o)), axis: 0)))
        let bias = b.constant("b", ConstantTensor(.int32, shape: [o], values: (0..<Int(o)).map { Int32($0 * 10 - 5) }, quantization: Quantization(scales: scales.map { $0 * 0.1 }, zeroPoints: Array(repeating: 0, count: Int(o)), axis: 0)))
        let y = b.value("y", int8Type(0.05, -128), [1, 3, 2, o])
        b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 2, strideH: 2, activation: .relu)), version: 3, [x, w, bias], [y])
        b.output(y)
        return b.model
    }

    func testInt8PerChannelGolden() throws {
        let given = int8Conv()
        var m = given
        XCTAssertTrue(try runVerified([ConvToDepthwise()], on: &m))
        GoldenIR.check("conv-to-depthwise.int8", given: given, passes: "conv-to-depthwise", result: m)
        // The scales stay in channel order; the axis moves to 3.
        let w = m.subgraphs[0][m.subgraphs[0].ops[0].inputs[1]]
        XCTAssertEqual(w.quantization?.axis, 3)
        XCTAssertEqual(w.quantization?.scales, given.subgraphs[0][given.subgraphs[0].ops[0].inputs[1]].quantization?.scales)
    }

    func testFloatDilatedGolden() throws {
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 6, 6, 1])
        let w = b.constant("w", ConstantTensor(floats: (0..<8).map { Float($0) - 3.5 }, shape: [2, 2, 2, 1]))
        let y = b.value("y", float32Type, [1, 4, 5, 2])
        b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1, activation: .relu6, dilationW: 1, dilationH: 2)), [x, w, .absent], [y])
        b.output(y)
        let given = b.model
        var m = given
        XCTAssertTrue(try runVerified([ConvToDepthwise()], on: &m))
        GoldenIR.check("conv-to-depthwise.float-dilated", given: given, passes: "conv-to-depthwise", result: m)
        // Float DEPTHWISE_CONV_2D with dilation needs version 2 (op_version.cc).
        XCTAssertEqual(m.subgraphs[0].ops[0].version, 2)
    }

    /// TFLM's depthwise kernel crashes without a bias, so a missing one becomes zeros with the
    /// converter's bias quantization (scale = input · filter per channel).
    func testMissingBiasBecomesZeroBias() throws {
        var m = int8Conv()
        m.subgraphs[0].ops[0].inputs.removeLast()
        try runVerified([ConvToDepthwise()], on: &m)
        let op = m.subgraphs[0].ops[0]
        XCTAssertEqual(op.inputs.count, 3)
        let b = try XCTUnwrap(m.constant(op.inputs[2]))
        XCTAssertEqual(b.type.dtype, .int32)
        XCTAssertEqual(b.integers, [0, 0, 0])
        XCTAssertEqual(b.type.quantization?.scales, [1, 2, 3].map { Float(0.1) * (Float($0) * 0.01) })
        XCTAssertEqual(m.subgraphs[0][op.inputs[2]].name, "w/zero_bias")
        // An int8 input without a per-tensor scale leaves the bias undefined: no rewrite.
        var odd = int8Conv()
        odd.subgraphs[0].ops[0].inputs.removeLast()
        odd.subgraphs[0].values[0].type.quantization = nil
        var pass = try ConvToDepthwise()
        var ctx = PassContext()
        XCTAssertFalse(try pass.run(on: &odd, context: &ctx))
    }

    func testFilterMovesOHWIToOneHWO() throws {
        var m = int8Conv(outChannels: 4)
        let before = m.constant(m.subgraphs[0].ops[0].inputs[1])!.integers!
        try runVerified([ConvToDepthwise()], on: &m)
        let after = m.constant(m.subgraphs[0].ops[0].inputs[1])!.integers!
        // before[o,i,j,0] == after[0,i,j,o] for every element.
        for o in 0..<4 { for i in 0..<2 { for j in 0..<2 {
            XCTAssertEqual(before[(o * 2 + i) * 2 + j], after[(i * 2 + j) * 4 + o])
        } } }
    }

    func testLeavesMultiChannelAndDynamicChannelConvs() throws {
        var m = int8Conv(inChannels: 2)
        XCTAssertFalse(try runVerified([ConvToDepthwise()], on: &m))
        var dyn = int8Conv()
        dyn.subgraphs[0].values[0].shapeSignature = [1, 5, 4, -1]
        XCTAssertFalse(try runVerified([ConvToDepthwise()], on: &dyn))
    }

    func testLeavesRuntimeFilter() throws {
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 3, 3, 1])
        let w = b.input("w", float32Type, [2, 1, 1, 1])
        let y = b.value("y", float32Type, [1, 3, 3, 2])
        b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [x, w, .absent], [y])
        b.output(y)
        var m = b.model
        XCTAssertFalse(try runVerified([ConvToDepthwise()], on: &m))
    }

    /// Two convs read the same filter value; a third tensor shares its buffer. Each conv gets
    /// its own transposed copy and the shared bytes are never written.
    func testSharedFilterIsNotMutated() throws {
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 3, 3, 1])
        let w = b.constant("w", ConstantTensor(floats: [1, 2, 3, 4, 5, 6], shape: [3, 1, 2, 1]))
        let alias = b.value("alias", float32Type, [6])
        b.graph.values[alias.index].buffer = b.graph.values[w.index].buffer
        let y1 = b.value("y1", float32Type, [1, 3, 2, 3])
        let y2 = b.value("y2", float32Type, [1, 3, 2, 3])
        let x2 = b.input("x2", float32Type, [1, 3, 3, 2])
        let y3 = b.value("y3", float32Type, [1, 3, 3, 1])
        let w3 = b.constant("w3", ConstantTensor(floats: [1, 1], shape: [1, 1, 1, 2]))
        b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), [x, w, .absent], [y1])
        b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), [x, w, .absent], [y2])
        b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), [x2, w3, .absent], [y3])
        let sum = b.value("sum", float32Type, [1, 3, 2, 3])
        b.op(.add(ArithmeticAttributes()), [y1, y2], [sum])
        b.op(.fullyConnected(FullyConnectedAttributes()), [alias, b.constant("fcw", ConstantTensor(floats: [Float](repeating: 1, count: 6), shape: [1, 6])), .absent], [b.value("fc", float32Type, [1, 1])])
        b.output(sum)
        b.output(y3)
        b.output(b.graph.ops.last!.outputs[0])
        var m = b.model
        let original = m.constant(w)!
        try runVerified([ConvToDepthwise()], on: &m)
        let g = m.subgraphs[0]
        XCTAssertEqual(liveOpNames(m), ["DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "ADD", "FULLY_CONNECTED"])
        XCTAssertEqual(m.constant(g[alias])?.bytes, original.bytes, "the buffer shared with another tensor changed")
        let f1 = g.ops[0].inputs[1], f2 = g.ops[1].inputs[1]
        XCTAssertNotEqual(f1, f2, "each conv should have its own rewritten filter")
        XCTAssertEqual(m.constant(f1)?.shape, [1, 1, 2, 3])
        XCTAssertEqual(m.constant(f2)?.shape, [1, 1, 2, 3])
    }

    func testConditionOnTarget() throws {
        let opts = PassOptions(["when": .map(["target_lacks": .string("conv-2d")])], location: "t.yaml:3")
        // No target: the pass does nothing and says why.
        var m = int8Conv()
        var ctx = PassContext()
        XCTAssertFalse(try runVerified([try ConvToDepthwise(options: opts)], on: &m, context: &ctx))
        XCTAssertTrue(ctx.notes.contains { $0.contains("needs a target profile") }, "\(ctx.notes)")
        // A target with CONV_2D: nothing to do.
        ctx = PassContext(target: TargetProfile(runtime: "tflm", ops: ["CONV_2D": nil, "DEPTHWISE_CONV_2D": nil]))
        XCTAssertFalse(try runVerified([try ConvToDepthwise(options: opts)], on: &m, context: &ctx))
        // A target without CONV_2D: rewritten.
        ctx = PassContext(target: TargetProfile(runtime: "tflm", ops: ["DEPTHWISE_CONV_2D": nil, "RESHAPE": nil]))
        XCTAssertTrue(try runVerified([try ConvToDepthwise(options: opts)], on: &m, context: &ctx))
        XCTAssertEqual(liveOpNames(m), ["DEPTHWISE_CONV_2D"])
    }

    func testTocoCompatibleSkipsUnequalStridesAndDilation() throws {
        var m = int8Conv()
        if case .conv2D(var a) = m.subgraphs[0].ops[0].kind {
            a.strideW = 1
            m.subgraphs[0].ops[0].kind = .conv2D(a)
            m.subgraphs[0].values[3].shape = [1, 3, 4, 3]
        }
        var toco = m
        XCTAssertFalse(try runVerified([try ConvToDepthwise(options: PassOptions(["toco_compatible": .bool(true)]))], on: &toco))
        XCTAssertTrue(try runVerified([ConvToDepthwise()], on: &m))
    }

    func testOptionErrorsAreLocated() {
        XCTAssertThrowsError(try ConvToDepthwise(options: PassOptions(["wen": .bool(true)], location: "r.yaml:7"))) { e in
            XCTAssertEqual("\(e)", "r.yaml:7: pass conv-to-depthwise: option 'wen': unknown option (known options: toco_compatible, when)")
        }
        XCTAssertThrowsError(try ConvToDepthwise(options: PassOptions(["when": .string("CONV_2D")], location: "r.yaml:8"))) { e in
            XCTAssertTrue("\(e)".hasPrefix("r.yaml:8: pass conv-to-depthwise: option 'when': expected a map"), "\(e)")
        }
        XCTAssertThrowsError(try ConvToDepthwise(options: PassOptions(["when": .map(["target_lack": .string("CONV_2D")])], location: "r.yaml:9"))) { e in
            XCTAssertTrue("\(e)".contains("unknown condition 'target_lack'"), "\(e)")
        }
        XCTAssertThrowsError(try ConvToDepthwise(options: PassOptions(["toco_compatible": .int(1)], location: "r.yaml:10"))) { e in
            XCTAssertEqual("\(e)", "r.yaml:10: pass conv-to-depthwise: option 'toco_compatible': expected true or false, got 1")
        }
    }

    /// Random geometry and weights: the depthwise model computes exactly what the conv did
    /// (reference loops; int8 compares integer accumulators), and depthwise-to-conv gives the
    /// original filter bytes back.
    func testRandomConvsComputeTheSame() throws {
        var rng = SplitMix64(seed: 0x5eed_c0de)
        for trial in 0..<60 {
            let spec = RandomConvModels.convSpec(&rng, int8: trial % 2 == 0)
            let given = RandomConvModels.oneChannelConv(spec, &rng)
            var m = given
            XCTAssertTrue(try runVerified([ConvToDepthwise()], on: &m), "\(spec)")
            XCTAssertEqual(liveOpNames(m), ["DEPTHWISE_CONV_2D"], "\(spec)")
            let input = RandomConvModels.convInput(given, &rng)
            let expected = ReferenceConvolution.run(given, input: input)
            let actual = ReferenceConvolution.run(try exportAndImport(m), input: input)
            XCTAssertNotNil(expected)
            XCTAssertEqual(expected, actual, "\(spec)")
            var back = m
            XCTAssertTrue(try runVerified([DepthwiseToConv()], on: &back), "\(spec)")
            let w0 = given.constant(given.subgraphs[0].ops[0].inputs[1])!, w1 = back.constant(back.subgraphs[0].ops[0].inputs[1])!
            XCTAssertEqual(w0.bytes, w1.bytes, "\(spec)")
            XCTAssertEqual(w0.shape, w1.shape)
            XCTAssertEqual(w0.type, w1.type, "\(spec)")
            XCTAssertEqual(back.subgraphs[0].ops[0].kind, given.subgraphs[0].ops[0].kind, "\(spec)")
            XCTAssertEqual(back.subgraphs[0].ops[0].version, given.subgraphs[0].ops[0].version, "\(spec)")
        }
    }

    func testMicroSpeechFixture() throws {
        for name in ["micro_speech_int8.tflite", "micro_speech_float.tflite"] {
            var m = try repairFixture(name)
            XCTAssertTrue(try runVerified([ConvToDepthwise()], on: &m), name)
            XCTAssertEqual(liveOpNames(m), ["RESHAPE", "DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"], name)
            let dw = m.subgraphs[0].ops[1]
            guard case .depthwiseConv2D(let a) = dw.kind else { return XCTFail() }
            XCTAssertEqual(a.depthMultiplier, 8)
            XCTAssertEqual(dw.version, name.contains("int8") ? 3 : 1)
            XCTAssertEqual(m.subgraphs[0][dw.inputs[1]].shape, [1, 10, 8, 8])
        }
    }
}
