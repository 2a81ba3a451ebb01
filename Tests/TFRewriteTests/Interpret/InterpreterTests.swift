import Foundation
import XCTest

@testable import TFRewrite

/// Hand-built graphs: kernel semantics on values worked out by hand, and the typed errors.
final class InterpreterTests: XCTestCase {
    typealias G = InterpreterTestSupport.GraphBuilder

    private func floats(_ shape: [Int], _ v: [Float]) -> RuntimeTensor { RuntimeTensor(shape: shape, floats: v)! }

    // MARK: Errors

    func testUnsupportedOpsAreListedTogether() {
        var g = G()
        let x = g.value("x", .float32, [1, 4])
        let y = g.value("y", .float32, [1, 4])
        let z = g.value("z", .float32, [1, 4])
        let w = g.value("w", .float32, [1, 4])
        g.op(.custom(code: "MyOp"), [x], [y])
        g.op(.relu, [y], [z])
        g.op(.builtin(BuiltinOperator(15), options: nil), [z], [w])  // LSH_PROJECTION: not a TFLM op
        XCTAssertThrowsError(try Interpreter(model: g.model(inputs: [x], outputs: [w]))) { error in
            guard let e = error as? InterpreterError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.unsupportedOps.map(\.index), [0, 2])
            XCTAssertEqual(e.unsupportedOps.map(\.name), ["MyOp", "LSH_PROJECTION"])
            XCTAssertEqual(e.description, "subgraph 0: 2 ops not supported by the interpreter: MyOp #0 (custom op \"MyOp\" has no kernel); LSH_PROJECTION #2 (no kernel for this op)")
        }
    }

    func testUnsupportedDtypeCombinationNamesTheTypes() {
        var g = G()
        let x = g.value("x", .int16, [1, 4], q: .perTensor(scale: 1, zeroPoint: 0))
        let y = g.value("y", .int16, [1, 4], q: .perTensor(scale: 1, zeroPoint: 0))
        g.op(.builtin(.hardSwish, options: nil), [x], [y])
        XCTAssertThrowsError(try Interpreter(model: g.model(inputs: [x], outputs: [y]))) { error in
            XCTAssertEqual((error as? InterpreterError)?.unsupportedOps.first?.reason, "type INT16; supported: FLOAT32 or INT8")
        }
    }

    /// Float DIV with broadcasting and the fused activation from DivOptions; int8 DIV (no
    /// TFLite kernel) is reported, not guessed.
    func testFloatDivide() throws {
        var g = G()
        let x = g.value("x", .float32, [2, 3])
        let d = g.value("d", .float32, [3])
        let y = g.value("y", .float32, [2, 3])
        g.op(.builtin(.div, options: nil), [x, d], [y])
        let interp = try Interpreter(model: g.model(inputs: [x, d], outputs: [y]))
        let out = try interp.run([floats([2, 3], [1, -2, 3, 4, 5, -6]), floats([3], [2, 4, -0.5])])[0]
        XCTAssertEqual(out.shape, [2, 3])
        XCTAssertEqual(out.floats, [0.5, -0.5, -6, 2, 1.25, 12])

        // DivOptions with fused_activation_function = RELU (field 0, one byte at table offset 4).
        var r = G()
        let a = r.value("a", .float32, [4]), b = r.value("b", .float32, [1]), c = r.value("c", .float32, [4])
        r.op(.builtin(.div, options: OpaqueOptions(typeTag: 29, vtable: [4], inline: [1, 0, 0, 0], alignmentPhase: 0)), [a, b], [c])
        let relu = try Interpreter(model: r.model(inputs: [a, b], outputs: [c]))
        XCTAssertEqual(try relu.run([floats([4], [1, -1, 3, -3]), floats([1], [2])])[0].floats, [0.5, 0, 1.5, 0])

        var q = G()
        let qx = q.value("x", .int8, [2], q: .perTensor(scale: 1, zeroPoint: 0))
        let qy = q.value("y", .int8, [2], q: .perTensor(scale: 1, zeroPoint: 0))
        let qz = q.value("z", .int8, [2], q: .perTensor(scale: 1, zeroPoint: 0))
        q.op(.builtin(.div, options: nil), [qx, qy], [qz])
        XCTAssertThrowsError(try Interpreter(model: q.model(inputs: [qx, qy], outputs: [qz]))) { error in
            XCTAssertEqual((error as? InterpreterError)?.unsupportedOps.first?.reason, "type INT8; supported: FLOAT32 or INT32")
        }
    }

    func testNonConstantFilterIsReported() {
        var g = G()
        let x = g.value("x", .float32, [1, 3, 3, 1])
        let f = g.value("f", .float32, [1, 1, 1, 1])
        let y = g.value("y", .float32, [1, 3, 3, 1])
        g.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [x, f, .absent], [y])
        XCTAssertThrowsError(try Interpreter(model: g.model(inputs: [x, f], outputs: [y]))) { error in
            XCTAssertEqual((error as? InterpreterError)?.unsupportedOps.first?.reason, "filter is not constant")
        }
    }

    func testInputMismatchErrors() throws {
        var g = G()
        let x = g.value("x", .float32, [1, 4], signature: [-1, 4])
        let y = g.value("y", .float32, [1, 4])
        g.op(.relu, [x], [y])
        let interp = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        XCTAssertThrowsError(try interp.run([])) { XCTAssertEqual("\($0)", "the model has 1 input, got 0") }
        XCTAssertThrowsError(try interp.run([RuntimeTensor(shape: [1, 4], int8s: [1, 2, 3, 4])!])) {
            XCTAssertEqual("\($0)", "input 0 (x): expected FLOAT32, got INT8")
        }
        XCTAssertThrowsError(try interp.run([floats([1, 3], [1, 2, 3])])) {
            XCTAssertEqual("\($0)", "input 0 (x): expected shape [?,4], got [1,3]")
        }
        // The dynamic batch dimension may change.
        XCTAssertEqual(try interp.run([floats([2, 4], [-1, 2, -3, 4, 5, -6, 7, -8])])[0].floats, [0, 2, 0, 4, 5, 0, 7, 0])
    }

    func testRuntimeErrorNamesTheOp() throws {
        var g = G()
        let x = g.value("x", .float32, [2, 3])
        let s = g.int32s("shape", [1], [4])
        let y = g.value("y", .float32, [4])
        g.op(.reshape(newShape: nil), [x, s], [y])
        let interp = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        XCTAssertThrowsError(try interp.run([floats([2, 3], [1, 2, 3, 4, 5, 6])])) {
            XCTAssertEqual("\($0)", "RESHAPE #0: cannot reshape [2, 3] (6 elements) to [4]")
        }
    }

    func testReadBeforeWriteIsReported() {
        var g = G()
        let x = g.value("x", .float32, [4])
        let t = g.value("t", .float32, [4])
        let y = g.value("y", .float32, [4])
        g.op(.relu, [t], [y])
        g.op(.relu, [x], [t])
        XCTAssertThrowsError(try Interpreter(model: g.model(inputs: [x], outputs: [y]))) { error in
            XCTAssertEqual((error as? InterpreterError)?.unsupportedOps.first?.reason, "input 0 reads %1 (t) before any op writes it")
        }
    }

    func testNoSuchSubgraph() {
        XCTAssertThrowsError(try Interpreter(model: Model(), subgraph: 0)) {
            XCTAssertEqual("\($0)", "subgraph 0 does not exist (the model has 0)")
        }
    }

    // MARK: Kernels on hand-computed values

    func testConvSamePaddingAndBias() throws {
        // 3×3 input, 2×2 filter of ones, stride 1, SAME: pads one row/column at the end.
        var g = G()
        let x = g.value("x", .float32, [1, 3, 3, 1])
        let f = g.floats("f", [1, 2, 2, 1], [1, 1, 1, 1])
        let b = g.floats("b", [1], [0.5])
        let y = g.value("y", .float32, [1, 3, 3, 1])
        g.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [x, f, b], [y])
        let interp = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        let out = try interp.run([floats([1, 3, 3, 1], [1, 2, 3, 4, 5, 6, 7, 8, 9])])[0]
        XCTAssertEqual(out.floats, [12.5, 16.5, 9.5, 24.5, 28.5, 15.5, 15.5, 17.5, 9.5])
    }

    func testDepthwiseMultiplierAndRelu6() throws {
        var g = G()
        let x = g.value("x", .float32, [1, 1, 2, 2])
        let f = g.floats("f", [1, 1, 1, 4], [1, -1, 2, 10])  // channel c·2+m
        let y = g.value("y", .float32, [1, 1, 2, 4])
        g.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .valid, strideW: 1, strideH: 1, depthMultiplier: 2, activation: .relu6)), [x, f, .absent], [y])
        let out = try Interpreter(model: g.model(inputs: [x], outputs: [y])).run([floats([1, 1, 2, 2], [1, 2, 3, 0.5])])[0]
        XCTAssertEqual(out.floats, [1, 0, 4, 6, 3, 0, 1, 5])
    }

    func testAveragePoolSameCountsOnlyValidCells() throws {
        var g = G()
        let x = g.value("x", .float32, [1, 2, 2, 1])
        let y = g.value("y", .float32, [1, 1, 1, 1])
        g.op(.averagePool2D(Pool2DAttributes(padding: .same, strideW: 2, strideH: 2, filterW: 3, filterH: 3)), [x], [y])
        let out = try Interpreter(model: g.model(inputs: [x], outputs: [y])).run([floats([1, 2, 2, 1], [1, 2, 3, 6])])[0]
        XCTAssertEqual(out.floats, [3])  // (1+2+3+6)/4, not /9
    }

    func testInt8AveragePoolRoundsHalfAwayFromZero() throws {
        var g = G()
        let q = Quantization.perTensor(scale: 0.1, zeroPoint: 0)
        let x = g.value("x", .int8, [1, 1, 2, 1], q: q)
        let y = g.value("y", .int8, [1, 1, 1, 1], q: q)
        g.op(.averagePool2D(Pool2DAttributes(padding: .valid, strideW: 1, strideH: 1, filterW: 2, filterH: 1)), [x], [y])
        let interp = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [1, 1, 2, 1], int8s: [1, 2])!])[0].int8s, [2])
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [1, 1, 2, 1], int8s: [-1, -2])!])[0].int8s, [-2])
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [1, 1, 2, 1], int8s: [-1, 2])!])[0].int8s, [1])
    }

    func testAddBroadcastsLikeNumpy() throws {
        var g = G()
        let a = g.value("a", .float32, [2, 1, 3])
        let b = g.value("b", .float32, [2, 1])
        let y = g.value("y", .float32, [2, 2, 3])
        g.op(.add(ArithmeticAttributes()), [a, b], [y])
        let out = try Interpreter(model: g.model(inputs: [a, b], outputs: [y]))
            .run([floats([2, 1, 3], [1, 2, 3, 4, 5, 6]), floats([2, 1], [10, 20])])[0]
        XCTAssertEqual(out.shape, [2, 2, 3])
        XCTAssertEqual(out.floats, [11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26])
    }

    func testStridedSliceMasksAndShrink() throws {
        var g = G()
        let x = g.value("x", .int32, [3, 4])
        let b = g.int32s("b", [2], [1, -1])
        let e = g.int32s("e", [2], [0, 0])
        let s = g.int32s("s", [2], [1, -2])
        let y = g.value("y", .int32, [2, 2])
        // begin_mask on axis 0 ignores begin (starts at 0); end_mask on axis 0 runs to the end.
        g.op(.stridedSlice(StridedSliceAttributes(beginMask: 1, endMask: 1)), [x, b, e, s], [y])
        let input = RuntimeTensor(shape: [3, 4], int32s: Array(0..<12))!
        let out = try Interpreter(model: g.model(inputs: [x], outputs: [y])).run([input])[0]
        XCTAssertEqual(out.shape, [3, 2])
        XCTAssertEqual(out.int32s, [3, 1, 7, 5, 11, 9])

        var h = G()
        let x2 = h.value("x", .int32, [3, 4])
        let b2 = h.int32s("b", [2], [-1, 0])
        let e2 = h.int32s("e", [2], [0, 4])
        let s2 = h.int32s("s", [2], [1, 1])
        let y2 = h.value("y", .int32, [4])
        h.op(.stridedSlice(StridedSliceAttributes(shrinkAxisMask: 1)), [x2, b2, e2, s2], [y2])
        let out2 = try Interpreter(model: h.model(inputs: [x2], outputs: [y2])).run([input])[0]
        XCTAssertEqual(out2.shape, [4])
        XCTAssertEqual(out2.int32s, [8, 9, 10, 11])
    }

    func testShapePackReshapeChainWithInferredDimension() throws {
        var g = G()
        let x = g.value("x", .float32, [2, 6])
        let shp = g.value("shape", .int32, [2])
        let b0 = g.int32s("b", [1], [0])
        let e0 = g.int32s("e", [1], [1])
        let s0 = g.int32s("s", [1], [1])
        let batch = g.value("batch", .int32, [])
        let m1 = g.int32s("m1", [], [-1])
        let three = g.int32s("three", [], [3])
        let packed = g.value("packed", .int32, [3])
        let y = g.value("y", .float32, [2, 2, 3])
        g.op(.shape(outType: .int32), [x], [shp])
        g.op(.stridedSlice(StridedSliceAttributes(shrinkAxisMask: 1)), [shp, b0, e0, s0], [batch])
        g.op(.pack(valuesCount: 3, axis: 0), [batch, m1, three], [packed])
        g.op(.reshape(newShape: nil), [x, packed], [y])
        let out = try Interpreter(model: g.model(inputs: [x], outputs: [y])).run([floats([2, 6], (0..<12).map(Float.init))])[0]
        XCTAssertEqual(out.shape, [2, 2, 3])
        XCTAssertEqual(out.floats, (0..<12).map(Float.init))
    }

    func testPadConcatGatherTranspose() throws {
        var g = G()
        let x = g.value("x", .float32, [2, 2])
        let p = g.int32s("p", [2, 2], [1, 0, 0, 1])
        let padded = g.value("padded", .float32, [3, 3])
        g.op(.pad, [x, p], [padded])
        let k = g.floats("k", [3, 2], [7, 7, 8, 8, 9, 9])
        let cat = g.value("cat", .float32, [3, 5])
        g.op(.concatenation(axis: -1, activation: .none), [padded, k], [cat])
        let idx = g.int32s("idx", [2], [4, 0])
        let gathered = g.value("gathered", .float32, [3, 2])
        g.op(.gather(axis: 1, batchDims: 0), [cat, idx], [gathered])
        let perm = g.int32s("perm", [2], [1, 0])
        let y = g.value("y", .float32, [2, 3])
        g.op(.builtin(.transpose, options: nil), [gathered, perm], [y])
        let out = try Interpreter(model: g.model(inputs: [x], outputs: [y])).run([floats([2, 2], [1, 2, 3, 4])])[0]
        // padded = [[0,0,0],[1,2,0],[3,4,0]]; cat adds [7,7],[8,8],[9,9]; gather columns 4 and 0.
        XCTAssertEqual(out.shape, [2, 3])
        XCTAssertEqual(out.floats, [7, 8, 9, 0, 1, 3])
    }

    func testMeanInt8FoldsTheCountIntoTheMultiplier() throws {
        // Mean of [1, 2] with equal in/out scales: sum 3, count 2 → 1.5 rounds to 2.
        var g = G()
        let q = Quantization.perTensor(scale: 0.5, zeroPoint: 0)
        let x = g.value("x", .int8, [1, 2], q: q)
        let axes = g.int32s("axes", [1], [1])
        let y = g.value("y", .int8, [1], q: q)
        g.op(.mean(keepDims: false), [x, axes], [y])
        let interp = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [1, 2], int8s: [1, 2])!])[0].int8s, [2])
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [1, 2], int8s: [-100, 50])!])[0].int8s, [-25])
    }

    func testQuantizeRoundsHalfAwayFromZeroAndSaturates() throws {
        func quantize(_ x: [Float], zeroPoint: Int64) throws -> [Int8]? {
            var g = G()
            let a = g.value("x", .float32, [Int32(x.count)])
            let y = g.value("y", .int8, [Int32(x.count)], q: .perTensor(scale: 0.5, zeroPoint: zeroPoint))
            g.op(.quantize, [a], [y])
            return try Interpreter(model: g.model(inputs: [a], outputs: [y])).run([floats([x.count], x)])[0].int8s
        }
        // 0.5 → 1−1 = 0; −0.5 → −1−1 = −2; 1.5 → 2−1 = 1; ±200 saturate.
        XCTAssertEqual(try quantize([0.25, -0.25, 0.75, 100, -100], zeroPoint: -1), [0, -2, 1, 127, -128])
        // TFLM on x86-64 turns NaN and out-of-range values into INT32_MIN before adding the zero
        // point (wrapping): checked against the tflite-micro runtime.
        XCTAssertEqual(try quantize([.nan, 1e10, -1e10], zeroPoint: -1), [127, 127, 127])
        XCTAssertEqual(try quantize([.nan, 1e10, -1e10], zeroPoint: 5), [-128, -128, -128])
    }

    func testSoftmaxInt8MatchesKnownValues() throws {
        // Equal logits: each of 4 classes gets 1/4 = 64/256 → 64 − 128 = −64.
        var g = G()
        let x = g.value("x", .int8, [1, 4], q: .perTensor(scale: 0.1, zeroPoint: 0))
        let y = g.value("y", .int8, [1, 4], q: .perTensor(scale: 1.0 / 256, zeroPoint: -128))
        g.op(.softmax(beta: 1), [x], [y])
        let interp = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [1, 4], int8s: [5, 5, 5, 5])!])[0].int8s, [-64, -64, -64, -64])
        // One dominant class saturates at 127, the others at −128.
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [1, 4], int8s: [127, -128, -128, -128])!])[0].int8s, [127, -128, -128, -128])
    }

    func testInterpreterReusesBuffersAcrossRuns() throws {
        var g = G()
        let x = g.value("x", .float32, [-1], signature: [-1])
        let y = g.value("y", .float32, [-1])
        g.op(.relu6, [x], [y])
        let interp = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        XCTAssertEqual(try interp.run([floats([3], [-1, 3, 9])])[0].floats, [0, 3, 6])
        XCTAssertEqual(try interp.run([floats([5], [7, 7, 7, 7, -7])])[0].floats, [6, 6, 6, 6, 0])
        XCTAssertEqual(try interp.run([floats([1], [2])])[0].floats, [2])
    }
}
