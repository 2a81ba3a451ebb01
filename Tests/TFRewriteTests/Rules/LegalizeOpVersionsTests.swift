import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// One test per op_version.cc rule on tiny one-op graphs, then the pass itself.
final class LegalizeOpVersionsTests: XCTestCase {
    func v(_ m: Model, file: StaticString = #filePath, line: UInt = #line) -> Int32? { minimumVersion(m)?.version }

    // MARK: CONV_2D

    func testConvInt8Is3() {
        let m = oneOpModel(.conv2D(convAttrs), version: 5, inputs: [.i8([1, 4, 4, 2]), .weights([3, 1, 1, 2], perChannelAxis: 0), .const(.int32, [3])], outputs: [.i8([1, 4, 4, 3])])
        XCTAssertEqual(minimumVersion(m), MinimumVersion(3, "int8 input, filter and output"))
    }
    func testConvFloatIs1() {
        let m = oneOpModel(.conv2D(convAttrs), inputs: [.act(.float32, [1, 4, 4, 2]), .const(.float32, [3, 1, 1, 2]), nil], outputs: [.act(.float32, [1, 4, 4, 3])])
        XCTAssertEqual(v(m), 1)
    }
    func testConvHybrid() {
        let perTensor = oneOpModel(.conv2D(convAttrs), inputs: [.act(.float32, [1, 4, 4, 2]), .weights([3, 1, 1, 2]), nil], outputs: [.act(.float32, [1, 4, 4, 3])])
        XCTAssertEqual(v(perTensor), 2)
        let perChannel = oneOpModel(.conv2D(convAttrs), inputs: [.act(.float32, [1, 4, 4, 2]), .weights([3, 1, 1, 2], perChannelAxis: 0), nil], outputs: [.act(.float32, [1, 4, 4, 3])])
        XCTAssertEqual(v(perChannel), 5)
    }
    func testGroupedConvIs6() {
        let m = oneOpModel(.conv2D(convAttrs), inputs: [.i8([1, 4, 4, 4]), .weights([4, 1, 1, 2]), nil], outputs: [.i8([1, 4, 4, 4])])
        XCTAssertEqual(v(m), 6)
        XCTAssertTrue(minimumVersion(m)!.reason.contains("grouped"))
    }
    func testConvInt16WithBiasTypeIs8AndInt4Is7() {
        var a = convAttrs
        a.quantizedBiasType = DType.int32.code
        let m = oneOpModel(.conv2D(a), inputs: [.act(.int16, [1, 2, 2, 1], q: .perTensor(scale: 0.1, zeroPoint: 0)), .weights([2, 1, 1, 1]), nil], outputs: [.act(.int16, [1, 2, 2, 2])])
        XCTAssertEqual(v(m), 8)
        let int4 = oneOpModel(.conv2D(convAttrs), inputs: [.i8([1, 2, 2, 1]), .weights([2, 1, 1, 1], .int4), nil], outputs: [.i8([1, 2, 2, 2])])
        XCTAssertEqual(v(int4), 7)
    }

    // MARK: DEPTHWISE_CONV_2D

    func testDepthwise() {
        let int8 = oneOpModel(.depthwiseConv2D(dwAttrs), version: 6, inputs: [.i8([1, 4, 4, 2]), .weights([1, 3, 3, 2], perChannelAxis: 3), .const(.int32, [2])], outputs: [.i8([1, 4, 4, 2])])
        XCTAssertEqual(v(int8), 3)
        var dilated = dwAttrs
        dilated.dilationH = 2
        let f = oneOpModel(.depthwiseConv2D(dilated), inputs: [.act(.float32, [1, 8, 8, 2]), .const(.float32, [1, 3, 3, 2]), nil], outputs: [.act(.float32, [1, 8, 8, 2])])
        XCTAssertEqual(minimumVersion(f), MinimumVersion(2, "dilation other than 1"))
        let plain = oneOpModel(.depthwiseConv2D(dwAttrs), inputs: [.act(.float32, [1, 8, 8, 2]), .const(.float32, [1, 3, 3, 2]), nil], outputs: [.act(.float32, [1, 8, 8, 2])])
        XCTAssertEqual(v(plain), 1)
        let hybrid = oneOpModel(.depthwiseConv2D(dwAttrs), inputs: [.act(.float32, [1, 8, 8, 2]), .weights([1, 3, 3, 2], perChannelAxis: 3), nil], outputs: [.act(.float32, [1, 8, 8, 2])])
        XCTAssertEqual(v(hybrid), 6)
        let int16 = oneOpModel(.depthwiseConv2D(dwAttrs), inputs: [.act(.int16, [1, 8, 8, 2]), .const(.int16, [1, 3, 3, 2]), nil], outputs: [.act(.int16, [1, 8, 8, 2])])
        XCTAssertEqual(v(int16), 5)
    }

    // MARK: FULLY_CONNECTED

    func testFullyConnectedInt8Is4EvenWithAnAbsentBias() {
        let withBias = oneOpModel(.fullyConnected(FullyConnectedAttributes()), version: 12, inputs: [.i8([1, 4]), .weights([3, 4], perChannelAxis: 0), .const(.int32, [3])], outputs: [.i8([1, 3])])
        XCTAssertEqual(minimumVersion(withBias), MinimumVersion(4, "int8 input, weights and output"))
        // A bias written as −1 still counts as an input (op_version.cc).
        let absentBias = oneOpModel(.fullyConnected(FullyConnectedAttributes()), inputs: [.i8([1, 4]), .weights([3, 4]), nil], outputs: [.i8([1, 3])])
        XCTAssertEqual(v(absentBias), 4)
    }
    func testFullyConnectedWithTwoInputsIs6() {
        let m = oneOpModel(.fullyConnected(FullyConnectedAttributes()), inputs: [.i8([1, 4]), .weights([3, 4])], outputs: [.i8([1, 3])])
        XCTAssertEqual(minimumVersion(m), MinimumVersion(6, "only 2 inputs (no bias slot)"))
    }
    func testFullyConnectedKeepNumDimsIs5() {
        let m = oneOpModel(.fullyConnected(FullyConnectedAttributes(keepNumDims: true)), inputs: [.act(.float32, [1, 2, 4]), .const(.float32, [3, 4]), nil], outputs: [.act(.float32, [1, 2, 3])])
        XCTAssertEqual(v(m), 5)
    }
    func testFullyConnectedHybrid() {
        let plain = oneOpModel(.fullyConnected(FullyConnectedAttributes()), inputs: [.act(.float32, [1, 4]), .weights([3, 4]), nil], outputs: [.act(.float32, [1, 3])])
        XCTAssertEqual(v(plain), 3)
        let asym = oneOpModel(.fullyConnected(FullyConnectedAttributes(asymmetricQuantizeInputs: true)), inputs: [.act(.float32, [1, 4]), .weights([3, 4]), nil], outputs: [.act(.float32, [1, 3])])
        XCTAssertEqual(v(asym), 9)
        // TF 2.21 dynamic-range conversion: per-channel hybrid FC is v12 (op_version.cc).
        let perChannel = oneOpModel(.fullyConnected(FullyConnectedAttributes()), inputs: [.act(.float32, [1, 4]), .weights([3, 4], perChannelAxis: 0), nil], outputs: [.act(.float32, [1, 3])])
        XCTAssertEqual(v(perChannel), 12)
    }
    func testFullyConnectedShuffledFloatInt16() {
        let shuffled = oneOpModel(.fullyConnected(FullyConnectedAttributes(weightsFormat: 1)), inputs: [.act(.float32, [1, 4]), .const(.float32, [3, 4]), nil], outputs: [.act(.float32, [1, 3])])
        XCTAssertEqual(v(shuffled), 2)
        let int16 = oneOpModel(.fullyConnected(FullyConnectedAttributes()), inputs: [.act(.int16, [1, 4]), .const(.int16, [3, 4]), nil], outputs: [.act(.int16, [1, 3])])
        XCTAssertEqual(v(int16), 7)
        let float = oneOpModel(.fullyConnected(FullyConnectedAttributes()), version: 9, inputs: [.act(.float32, [1, 4]), .const(.float32, [3, 4]), nil], outputs: [.act(.float32, [1, 3])])
        XCTAssertEqual(v(float), 1)
    }

    // MARK: Element-wise, pooling, softmax

    func testSoftmaxMeanRelu6() {
        XCTAssertEqual(v(oneOpModel(.softmax(beta: 1), inputs: [.i8([1, 4])], outputs: [.i8([1, 4])])), 2)
        XCTAssertEqual(v(oneOpModel(.softmax(beta: 1), inputs: [.act(.int16, [1, 4])], outputs: [.act(.int16, [1, 4])])), 3)
        XCTAssertEqual(v(oneOpModel(.softmax(beta: 1), version: 3, inputs: [.act(.float32, [1, 4])], outputs: [.act(.float32, [1, 4])])), 1)
        XCTAssertEqual(v(oneOpModel(.mean(keepDims: false), inputs: [.i8([1, 2, 2, 4]), .const(.int32, [2])], outputs: [.i8([1, 4])])), 2)
        XCTAssertEqual(v(oneOpModel(.relu6, inputs: [.i8([4])], outputs: [.i8([4])])), 2)
    }
    func testAdd() {
        XCTAssertEqual(v(oneOpModel(.add(ArithmeticAttributes()), inputs: [.i8([4]), .i8([4])], outputs: [.i8([4])])), 2)
        XCTAssertEqual(v(oneOpModel(.add(ArithmeticAttributes()), inputs: [.act(.int64, [4]), .act(.int64, [4])], outputs: [.act(.int64, [4])])), 4)
        XCTAssertEqual(v(oneOpModel(.add(ArithmeticAttributes()), inputs: [.act(.int16, [4]), .act(.int16, [4])], outputs: [.act(.int16, [4])])), 5)
        let q = Quantization.perTensor(scale: 0.5, zeroPoint: 0)
        XCTAssertEqual(v(oneOpModel(.add(ArithmeticAttributes(potScaleInt16: false)), inputs: [.act(.int16, [4], q: q), .act(.int16, [4], q: q)], outputs: [.act(.int16, [4], q: q)])), 3)
        XCTAssertEqual(v(oneOpModel(.add(ArithmeticAttributes()), inputs: [.act(.float16, [4]), .act(.float16, [4])], outputs: [.act(.float16, [4])])), 6)
    }
    func testSubBroadcastAbove4D() {
        let m = oneOpModel(.sub(ArithmeticAttributes()), inputs: [.act(.float32, [1, 2, 3, 4, 5]), .act(.float32, [5])], outputs: [.act(.float32, [1, 2, 3, 4, 5])])
        XCTAssertEqual(v(m), 3)
        XCTAssertEqual(v(oneOpModel(.sub(ArithmeticAttributes()), inputs: [.i8([4]), .i8([4])], outputs: [.i8([4])])), 2)
    }
    func testMulRescale() {
        let big = oneOpModel(.mul(activation: .none), inputs: [.i8([4], scale: 2), .i8([4], scale: 1)], outputs: [.i8([4], scale: 1)])
        XCTAssertEqual(v(big), 3)
        let small = oneOpModel(.mul(activation: .none), inputs: [.i8([4], scale: 0.1), .i8([4], scale: 0.1)], outputs: [.i8([4], scale: 0.5)])
        XCTAssertEqual(v(small), 2)
    }
    func testPooling() {
        let a = Pool2DAttributes(padding: .valid, strideW: 1, strideH: 1, filterW: 2, filterH: 2)
        XCTAssertEqual(v(oneOpModel(.averagePool2D(a), inputs: [.i8([1, 2, 2, 1])], outputs: [.i8([1, 1, 1, 1])])), 2)
        XCTAssertEqual(v(oneOpModel(.maxPool2D(a), inputs: [.act(.int16, [1, 2, 2, 1])], outputs: [.act(.int16, [1, 1, 1, 1])])), 3)
    }
    func testReshapeIsAlways1() {
        let m = oneOpModel(.reshape(newShape: nil), version: 4, inputs: [.i8([1, 4]), .const(.int32, [1])], outputs: [.i8([4])])
        XCTAssertEqual(minimumVersion(m), MinimumVersion(1, "no version rule: always 1"))
    }

    // MARK: QUANTIZE / DEQUANTIZE

    func testQuantize() {
        XCTAssertEqual(v(oneOpModel(.quantize, version: 2, inputs: [.act(.float32, [4])], outputs: [.i8([4])])), 1)
        XCTAssertEqual(v(oneOpModel(.quantize, inputs: [.act(.float32, [4])], outputs: [.act(.int16, [4], q: .perTensor(scale: 1, zeroPoint: 0))])), 2)
        let perChannel = Quantization(scales: [0.1, 0.2], zeroPoints: [0, 0], axis: 1)
        XCTAssertEqual(v(oneOpModel(.quantize, inputs: [.act(.float32, [3, 2])], outputs: [.act(.int8, [3, 2], q: perChannel)])), 3)
    }
    func testDequantize() {
        XCTAssertEqual(v(oneOpModel(.dequantize, inputs: [.i8([4])], outputs: [.act(.float32, [4])])), 2)
        XCTAssertEqual(v(oneOpModel(.dequantize, inputs: [.weights([2, 4], perChannelAxis: 0)], outputs: [.act(.float32, [2, 4])])), 5)
        XCTAssertEqual(v(oneOpModel(.dequantize, inputs: [.const(.float16, [4])], outputs: [.act(.float32, [4])])), 3)
        XCTAssertEqual(v(oneOpModel(.dequantize, version: 2, inputs: [.act(.uint8, [4], q: .perTensor(scale: 1, zeroPoint: 128))], outputs: [.act(.float32, [4])])), 1)
    }

    // MARK: Data movement

    func testConcatenationPadTranspose() {
        XCTAssertEqual(v(oneOpModel(.concatenation(axis: 0, activation: .none), inputs: [.i8([2]), .i8([2])], outputs: [.i8([4])])), 2)
        XCTAssertEqual(v(oneOpModel(.pad, inputs: [.act(.float32, [1, 1, 1, 1, 2]), .const(.int32, [5, 2])], outputs: [.act(.float32, [1, 1, 1, 1, 4])])), 4)
        XCTAssertEqual(v(oneOpModel(.pad, inputs: [.i8([1, 2]), .const(.int32, [2, 2])], outputs: [.i8([1, 4])])), 2)
        XCTAssertEqual(v(oneOpModel(.builtin(.transpose, options: nil), inputs: [.i8([2, 3]), .const(.int32, [2])], outputs: [.i8([3, 2])])), 2)
    }
    func testStridedSlicePackCastSqueeze() {
        let ellipsis = oneOpModel(.stridedSlice(StridedSliceAttributes(ellipsisMask: 1)), inputs: [.act(.int32, [4]), .const(.int32, [1]), .const(.int32, [1]), .const(.int32, [1])], outputs: [.act(.int32, [1])])
        XCTAssertEqual(v(ellipsis), 6)
        let plain = oneOpModel(.stridedSlice(StridedSliceAttributes(shrinkAxisMask: 1)), inputs: [.act(.int32, [4]), .const(.int32, [1]), .const(.int32, [1]), .const(.int32, [1])], outputs: [.act(.int32, [])])
        XCTAssertEqual(v(plain), 1)
        XCTAssertEqual(v(oneOpModel(.pack(valuesCount: 2, axis: 0), inputs: [.i8([2]), .i8([2])], outputs: [.i8([2, 2])])), 2)
        XCTAssertEqual(v(oneOpModel(.builtin(.cast, options: nil), inputs: [.act(.int8, [2])], outputs: [.act(.float32, [2])])), 3)
        XCTAssertEqual(v(oneOpModel(.squeeze(dims: []), version: 2, inputs: [.i8([1, 2])], outputs: [.i8([2])])), 1)
        XCTAssertEqual(v(oneOpModel(.builtin(.leakyRelu, options: nil), inputs: [.act(.int16, [2])], outputs: [.act(.int16, [2])])), 2)
    }

    func testOpsWithoutARuleKeepTheirVersion() {
        let custom = oneOpModel(.custom(code: "Foo"), version: 7, inputs: [.act(.float32, [2])], outputs: [.act(.float32, [2])])
        XCTAssertNil(minimumVersion(custom))
        let topk = oneOpModel(.builtin(BuiltinOperator(name: "TOPK_V2")!, options: nil), version: 2, inputs: [.i8([4]), .const(.int32, [])], outputs: [.i8([2]), .act(.int32, [2])])
        XCTAssertNil(minimumVersion(topk))
        var m = custom
        var ctx = PassContext()
        var pass = LegalizeOpVersions()
        XCTAssertFalse(try pass.run(on: &m, context: &ctx))
        XCTAssertEqual(m.subgraphs[0].ops[0].version, 7)
    }

    func testSVDFReadsItsOpaqueOptions() {
        // SVDFOptions table: rank (id 0, int32), activation (id 1), asymmetric_quantize_inputs (id 2).
        let options = OpaqueOptions(typeTag: 6, vtable: [4, 8, 9], inline: [1, 0, 0, 0, 0, 1], alignmentPhase: 0)
        let svdf = BuiltinOperator(name: "SVDF")!
        let hybrid = oneOpModel(.builtin(svdf, options: options), inputs: [.act(.float32, [1, 4]), .weights([2, 4]), .weights([2, 3]), nil, .act(.float32, [1, 6])],
                                outputs: [.act(.float32, [1, 2])])
        XCTAssertEqual(v(hybrid), 4)
        let int8 = oneOpModel(.builtin(svdf, options: nil), inputs: [.i8([1, 4]), .weights([2, 4]), .weights([2, 3]), nil, .i8([1, 6])], outputs: [.i8([1, 2])])
        XCTAssertEqual(v(int8), 3)
    }

    // MARK: The pass

    func testPassLowersVersionsAndUpdatesMinRuntimeVersion() throws {
        var m = oneOpModel(.fullyConnected(FullyConnectedAttributes()), version: 11, inputs: [.i8([1, 4]), .weights([3, 4]), .const(.int32, [3])], outputs: [.i8([1, 3])])
        // The converter's metadata: 16 bytes, NUL-padded.
        let old = Array("2.15.0".utf8) + [UInt8](repeating: 0, count: 10)
        m.metadata = [Metadata(name: "min_runtime_version", buffer: m.addBuffer(ByteSlice(old)))]
        var ctx = PassContext()
        var pass = LegalizeOpVersions()
        XCTAssertTrue(try pass.run(on: &m, context: &ctx))
        XCTAssertEqual(m.subgraphs[0].ops[0].version, 4)
        let meta = try XCTUnwrap(m.metadata(named: "min_runtime_version")).array
        XCTAssertEqual(meta, Array("1.14.0".utf8) + [UInt8](repeating: 0, count: 10))
        XCTAssertTrue(ctx.notes.contains { $0.contains("FULLY_CONNECTED #0: version 11 -> 4") }, "\(ctx.notes)")
        XCTAssertTrue(Verifier.verify(m).isEmpty, "\(Verifier.verify(m))")
        // A second run changes nothing.
        XCTAssertFalse(try pass.run(on: &m, context: &ctx))
    }

    func testSharedMetadataBufferIsNotOverwritten() throws {
        var m = oneOpModel(.softmax(beta: 1), version: 3, inputs: [.i8([1, 4])], outputs: [.i8([1, 4])])
        let bytes = Array("2.3.0".utf8) + [UInt8](repeating: 0, count: 11)
        let b = m.addBuffer(ByteSlice(bytes))
        m.metadata = [Metadata(name: "min_runtime_version", buffer: b)]
        // A constant happens to share the buffer (converters deduplicate identical buffers).
        m.subgraphs[0].addValue(Value(name: "c", type: ElementType(.int8), shape: [16], buffer: b))
        var ctx = PassContext()
        var pass = LegalizeOpVersions()
        _ = try pass.run(on: &m, context: &ctx)
        XCTAssertEqual(m.buffers[b.index].data?.array, bytes)
        XCTAssertNotEqual(m.metadata[0].buffer, b)
        XCTAssertEqual(m.metadata(named: "min_runtime_version")?.array, Array("1.14.0".utf8) + [UInt8](repeating: 0, count: 10))
    }

    func testTargetCheckListsEveryOpAndWhy() throws {
        var m = tinyTwoOpModel()
        let target = TargetProfile(runtime: "old", ops: ["FULLY_CONNECTED": 3], checksVersions: true, name: "old")
        var ctx = PassContext(target: target)
        var pass = LegalizeOpVersions()
        XCTAssertThrowsError(try pass.run(on: &m, context: &ctx)) { e in
            XCTAssertEqual(e as? PassError, .unsupportedByTarget([
                "FULLY_CONNECTED #0: version 4, accepted up to 3 (v4 is the lowest its types allow: int8 input, weights and output)",
                "SOFTMAX #1: not registered",
            ]))
        }
        // Versions were still lowered before the check.
        XCTAssertEqual(m.subgraphs[0].ops.map(\.version), [4, 2])
        // Without exact version matching only the missing op remains.
        var ctx2 = PassContext(target: TargetProfile(runtime: "new", ops: ["FULLY_CONNECTED": 3, "SOFTMAX": nil], checksVersions: false))
        XCTAssertNoThrow(try pass.run(on: &m, context: &ctx2))
        var off = LegalizeOpVersions(checkTarget: false)
        XCTAssertNoThrow(try off.run(on: &m, context: &ctx))
    }

    func testVersionsOfTheFixturesAreAlreadyMinimal() throws {
        // The TF 2.21 converter writes exactly the minimum versions for these int8 models.
        for name in ["micro_speech_int8", "ds_cnn_int8", "qdq_float_io"] {
            let url = TestPaths.fixtures.appendingPathComponent("\(name).tflite")
            var m = try TFLiteImporter.load(path: url.path)
            let before = m.subgraphs[0].ops.map(\.version)
            var ctx = PassContext()
            var pass = LegalizeOpVersions(checkTarget: false)
            _ = try pass.run(on: &m, context: &ctx)
            XCTAssertEqual(m.subgraphs[0].ops.map(\.version), before, name)
        }
    }

    /// FULLY_CONNECTED (int8, v9) → SOFTMAX (int8, v5).
    func tinyTwoOpModel() -> Model {
        var m = oneOpModel(.fullyConnected(FullyConnectedAttributes()), version: 9, inputs: [.i8([1, 4]), .weights([3, 4]), .const(.int32, [3])], outputs: [.i8([1, 3])])
        let y = m.subgraphs[0].outputs[0]
        let z = m.subgraphs[0].addValue(Value(name: "z", type: ElementType(.int8, quantization: .perTensor(scale: 1.0 / 256, zeroPoint: -128)), shape: [1, 3]))
        m.subgraphs[0].addOp(Op(kind: .softmax(beta: 1), version: 5, inputs: [y], outputs: [z]))
        m.subgraphs[0].outputs = [z]
        return m
    }
}
