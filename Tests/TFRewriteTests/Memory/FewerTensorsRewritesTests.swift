import XCTest

@testable import Memory
@testable import Passes
@testable import TFRewrite

/// The rewrites `--optimize memory` tries to give TFLM fewer tensors and ops: unpack-gathers,
/// reshape-into-fully-connected, conv-as-fully-connected. Each must compute the same bits
/// (checked with the interpreter, int8 bit-exact with TFLM) and leave shapes it cannot handle.
final class FewerTensorsRewritesTests: XCTestCase {
    private func fixture(_ name: String) throws -> Model { try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent(name).path) }

    private func run(_ m: Model, _ inputs: [RuntimeTensor]) throws -> [RuntimeTensor] { try Interpreter(model: m).run(inputs) }

    // MARK: unpack-gathers

    /// A [1,3,4] sequence reshaped to [3,1,4] and read one time step at a time by GATHERs, the
    /// indices in `order` (a repeated index reads the same step twice).
    private func gatheredSteps(order: [Int32] = [2, 0, 1]) -> Model {
        var b = PassGraphBuilder()
        let x = b.input("x", int8Type(0.1, -2), [1, 3, 4])
        let shape = b.ints("shape", [3, 1, 4])
        let steps = b.value("steps", int8Type(0.1, -2), [3, 1, 4])
        b.op(.reshape(newShape: nil), [x, shape], [steps])
        var sum: ValueID?
        for (k, index) in order.enumerated() {
            let i = b.constant("t\(k)", ConstantTensor(.int32, shape: [], values: [index]))
            let step = b.value("step\(k)", int8Type(0.1, -2), [1, 4])
            b.op(.gather(axis: 0, batchDims: 0), [steps, i], [step])
            if let s = sum {
                let next = b.value("sum\(k)", int8Type(0.2, 0), [1, 4])
                b.op(.add(ArithmeticAttributes()), [s, step], [next])
                sum = next
            } else {
                sum = step
            }
        }
        b.output(sum!)
        return b.model
    }

    func testUnpackGathersGolden() throws {
        let given = gatheredSteps()
        var m = given
        XCTAssertTrue(try runVerified([UnpackGathers(), Cleanup()], on: &m))
        GoldenIR.check("unpack-gathers", given: given, passes: "unpack-gathers, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["UNPACK", "ADD", "ADD"])
        let x = RuntimeTensor(shape: [1, 3, 4], int8s: (0..<12).map { Int8($0 * 9 - 50) })!
        XCTAssertEqual(try run(m, [x]), try run(given, [x]))
        let before = try ArenaReport.analyze(given, build: .standard(.bits64)), after = try ArenaReport.analyze(m, build: .standard(.bits64))
        XCTAssertLessThan(after.minArenaBytes, before.minArenaBytes)
    }

    func testUnpackGathersReadsARepeatedStepOnce() throws {
        let given = gatheredSteps(order: [0, 1, 1, 2])
        var m = given
        XCTAssertTrue(try runVerified([UnpackGathers(), Cleanup()], on: &m))
        XCTAssertEqual(liveOpNames(m), ["UNPACK", "ADD", "ADD", "ADD"])
        let x = RuntimeTensor(shape: [1, 3, 4], int8s: (0..<12).map { Int8($0 * 7 - 40) })!
        XCTAssertEqual(try run(m, [x]), try run(given, [x]))
    }

    func testUnpackGathersNeedsEveryStepAndAUnpackTarget() throws {
        // Step 2 is never read: an UNPACK would make a tensor more.
        var m = gatheredSteps(order: [0, 1])
        XCTAssertFalse(try runVerified([UnpackGathers()], on: &m))
        var context = PassContext(target: TargetProfile(runtime: "tflm", ops: ["GATHER": nil, "RESHAPE": nil, "ADD": nil]))
        var n = gatheredSteps()
        XCTAssertFalse(try runVerified([UnpackGathers()], on: &n, context: &context))
    }

    // MARK: reshape-into-fully-connected

    private func flattenedDense(keepNumDims: Bool = false) -> Model {
        var b = PassGraphBuilder()
        let x = b.input("x", int8Type(0.05, 3), [1, 2, 3])
        let shape = b.ints("shape", [1, 6])
        let flat = b.value("flat", int8Type(0.05, 3), [1, 6])
        let w = b.constant("w", ConstantTensor(.int8, shape: [2, 6], values: (0..<12).map { Int8($0 * 11 - 60) },
                                               quantization: Quantization(scales: [0.02, 0.03], zeroPoints: [0, 0])))
        let bias = b.constant("b", ConstantTensor(.int32, shape: [2], values: [Int32(40), -70],
                                                  quantization: Quantization(scales: [0.001, 0.0015], zeroPoints: [0, 0])))
        let y = b.value("y", int8Type(0.1, -5), [1, 2])
        b.op(.reshape(newShape: nil), [x, shape], [flat])
        b.op(.fullyConnected(FullyConnectedAttributes(activation: .relu, keepNumDims: keepNumDims)), version: 4, [flat, w, bias], [y])
        b.output(y)
        return b.model
    }

    func testReshapeIntoFullyConnectedGolden() throws {
        let given = flattenedDense()
        var m = given
        XCTAssertTrue(try runVerified([ReshapeIntoFullyConnected(), Cleanup()], on: &m))
        GoldenIR.check("reshape-into-fully-connected", given: given, passes: "reshape-into-fully-connected, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["FULLY_CONNECTED"])
        let x = RuntimeTensor(shape: [1, 2, 3], int8s: [-128, -3, 17, 90, 127, 4])!
        XCTAssertEqual(try run(m, [x]), try run(given, [x]))
    }

    func testReshapeIntoFullyConnectedKeepsKeepNumDims() throws {
        var m = flattenedDense(keepNumDims: true)
        XCTAssertFalse(try runVerified([ReshapeIntoFullyConnected()], on: &m))
    }

    // MARK: conv-as-fully-connected

    /// A 1-D convolution over three frames of 2 channels, as a streaming keyword model has it:
    /// RESHAPE to [1,1,3,2], CONV_2D with a 1×3 filter, RESHAPE to [1,1,O].
    private func frameConv(int8: Bool, filterWidth: Int32 = 3) -> Model {
        var b = PassGraphBuilder()
        let inType = int8 ? int8Type(0.04, -128) : float32Type
        let outType = int8 ? int8Type(0.08, -128) : float32Type
        let frames = b.input("frames", inType, [1, 3, 2])
        let s1 = b.ints("s1", [1, 1, 3, 2])
        let x = b.value("x", inType, [1, 1, 3, 2])
        let count = Int(filterWidth) * 2 * 2
        let filter: ConstantTensor
        let bias: ConstantTensor
        if int8 {
            filter = ConstantTensor(.int8, shape: [2, 1, filterWidth, 2], values: (0..<count).map { Int8(($0 * 37) % 255 - 127) },
                                    quantization: Quantization(scales: [0.01, 0.013], zeroPoints: [0, 0]))
            bias = ConstantTensor(.int32, shape: [2], values: [Int32(300), -1200], quantization: Quantization(scales: [0.0004, 0.00052], zeroPoints: [0, 0]))
        } else {
            filter = ConstantTensor(floats: (0..<count).map { Float(($0 * 37) % 19) * 0.1 - 0.9 }, shape: [2, 1, filterWidth, 2])
            bias = ConstantTensor(floats: [0.25, -0.5], shape: [2])
        }
        let f = b.constant("f", filter)
        let bb = b.constant("bias", bias)
        let outWidth = 3 - filterWidth + 1
        let y = b.value("y", outType, [1, 1, outWidth, 2])
        let s2 = b.ints("s2", [1, outWidth, 2])
        let z = b.value("z", outType, [1, outWidth, 2])
        b.op(.reshape(newShape: nil), [frames, s1], [x])
        b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1, activation: .relu)), version: int8 ? 3 : 1, [x, f, bb], [y])
        b.op(.reshape(newShape: nil), [y, s2], [z])
        b.output(z)
        return b.model
    }

    func testConvAsFullyConnectedGolden() throws {
        let given = frameConv(int8: true)
        var m = given
        XCTAssertTrue(try runVerified([ConvAsFullyConnected(), ReshapeIntoFullyConnected(), Cleanup()], on: &m))
        GoldenIR.check("conv-as-fully-connected", given: given, passes: "conv-as-fully-connected, reshape-into-fully-connected, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["FULLY_CONNECTED", "RESHAPE"])
        for seed in 0..<4 {
            let x = RuntimeTensor(shape: [1, 3, 2], int8s: (0..<6).map { Int8(truncatingIfNeeded: $0 * (31 + seed * 13) - 100) })!
            XCTAssertEqual(try run(m, [x]), try run(given, [x]))
        }
    }

    func testConvAsFullyConnectedFloatSumsInTheSameOrder() throws {
        let given = frameConv(int8: false)
        var m = given
        XCTAssertTrue(try runVerified([ConvAsFullyConnected(), ReshapeIntoFullyConnected(), Cleanup()], on: &m))
        XCTAssertEqual(liveOpNames(m), ["FULLY_CONNECTED", "RESHAPE"])
        let x = RuntimeTensor(shape: [1, 3, 2], floats: (0..<6).map { Float($0) * 0.37 - 1.9 })!
        // Bit patterns, not approximately: the same products summed in the same order.
        XCTAssertEqual(try run(m, [x]), try run(given, [x]))
    }

    func testConvAsFullyConnectedLeavesOtherConvolutions() throws {
        // A filter narrower than the input slides: not one dot product per output.
        var m = frameConv(int8: true, filterWidth: 2)
        XCTAssertFalse(try runVerified([ConvAsFullyConnected()], on: &m))
        // A target whose FULLY_CONNECTED takes one weight scale keeps the per-channel conv.
        var profile = TargetProfile(runtime: "tflm", ops: [:])
        profile.quantization.perChannelFullyConnected = false
        var context = PassContext(target: profile)
        var n = frameConv(int8: true)
        XCTAssertFalse(try runVerified([ConvAsFullyConnected()], on: &n, context: &context))
    }

    // MARK: strided-slice-as-slice

    /// A streaming state update: the window without its oldest frame, and a middle block.
    private func stateUpdate(strides: [Int32] = [1, 1, 1]) -> Model {
        let lastStride = strides[2]
        var b = PassGraphBuilder()
        let x = b.input("window", int8Type(0.02, -128), [1, 3, 4])
        let begin = b.ints("begin", [0, 1, 0])
        let end = b.ints("end", [0, 0, 0])
        let step = b.ints("strides", strides)
        let state = b.value("state", int8Type(0.02, -128), [1, 2, 4 / lastStride])
        b.op(.stridedSlice(StridedSliceAttributes(beginMask: 5, endMask: 7)), version: 2, [x, begin, end, step], [state])
        let begin2 = b.ints("begin2", [0, 1, -3])
        let end2 = b.ints("end2", [1, 2, 3])
        let middle = b.value("middle", int8Type(0.02, -128), [1, 1, 2 / lastStride])
        b.op(.stridedSlice(StridedSliceAttributes()), version: 2, [x, begin2, end2, step], [middle])
        b.output(state)
        b.output(middle)
        return b.model
    }

    func testStridedSliceAsSliceGolden() throws {
        let given = stateUpdate()
        var m = given
        XCTAssertTrue(try runVerified([StridedSliceAsSlice(), Cleanup()], on: &m))
        GoldenIR.check("strided-slice-as-slice", given: given, passes: "strided-slice-as-slice, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["SLICE", "SLICE"])
        let x = RuntimeTensor(shape: [1, 3, 4], int8s: (0..<12).map { Int8($0 * 10 - 60) })!
        XCTAssertEqual(try run(m, [x]), try run(given, [x]))
        let before = try ArenaReport.analyze(given, build: .standard(.bits64)), after = try ArenaReport.analyze(m, build: .standard(.bits64))
        XCTAssertLessThan(after.minArenaBytes, before.minArenaBytes)
    }

    func testStridedSliceAsSliceLeavesStrides() throws {
        var m = stateUpdate(strides: [1, 1, 2])
        XCTAssertFalse(try runVerified([StridedSliceAsSlice()], on: &m))
    }

    // MARK: slices-as-split

    /// A GRU's recurrent projection cut into its three gates by SLICEs, in `widths` (columns).
    private func gateSlices(widths: [Int32], sizeToEnd: Bool = true) -> Model {
        var b = PassGraphBuilder()
        let total = widths.reduce(0, +)
        let p = b.input("p", int8Type(0.03, 5), [1, total])
        var start: Int32 = 0
        var sum: ValueID?
        // Written out of order (the last gate first), as TF's converter does.
        var pieces: [(Int32, Int32)] = []
        for w in widths { pieces.append((start, w)); start += w }
        for (k, (lo, w)) in pieces.reversed().enumerated() {
            let begin = b.ints("begin\(k)", [0, lo])
            let size = b.ints("size\(k)", lo + w == total && sizeToEnd ? [-1, -1] : [1, w])
            let gate = b.value("gate\(k)", int8Type(0.03, 5), [1, w])
            b.op(.builtin(.slice, options: nil), version: 2, [p, begin, size], [gate])
            let squashed = b.value("sigmoid\(k)", int8Type(1.0 / 256, -128), [1, w])
            b.op(.logistic, version: 2, [gate], [squashed])
            if let s = sum {
                let next = b.value("cat\(k)", int8Type(1.0 / 256, -128), [1, 0])
                b.graph.values[next.index].shape = [1, b.graph.values[s.index].shape[1] + w]
                b.op(.concatenation(axis: 1, activation: .none), version: 2, [s, squashed], [next])
                sum = next
            } else {
                sum = squashed
            }
        }
        b.output(sum!)
        return b.model
    }

    func testSlicesAsSplitGolden() throws {
        let given = gateSlices(widths: [4, 4, 4])
        var m = given
        XCTAssertTrue(try runVerified([SlicesAsSplit(), Cleanup()], on: &m))
        GoldenIR.check("slices-as-split", given: given, passes: "slices-as-split, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m).filter { $0 == "SPLIT" || $0 == "SLICE" }, ["SPLIT"])
        let x = RuntimeTensor(shape: [1, 12], int8s: (0..<12).map { Int8($0 * 21 - 120) })!
        XCTAssertEqual(try run(m, [x]), try run(given, [x]))
        let before = try ArenaReport.analyze(given, build: .standard(.bits64)), after = try ArenaReport.analyze(m, build: .standard(.bits64))
        XCTAssertLessThan(after.minArenaBytes, before.minArenaBytes)
    }

    func testSlicesAsSplitVForUnequalPieces() throws {
        let given = gateSlices(widths: [2, 6, 4], sizeToEnd: false)
        var m = given
        XCTAssertTrue(try runVerified([SlicesAsSplit(), Cleanup()], on: &m))
        XCTAssertEqual(liveOpNames(m).filter { $0 == "SPLIT_V" || $0 == "SLICE" }, ["SPLIT_V"])
        let x = RuntimeTensor(shape: [1, 12], int8s: (0..<12).map { Int8($0 * 19 - 110) })!
        XCTAssertEqual(try run(m, [x]), try run(given, [x]))
    }

    func testSlicesAsSplitNeedsATiling() throws {
        // Columns 0..<4 and 8..<12 only: a gap.
        var b = PassGraphBuilder()
        let p = b.input("p", float32Type, [1, 12])
        for (k, lo) in [Int32(0), 8].enumerated() {
            let begin = b.ints("begin\(k)", [0, lo]), size = b.ints("size\(k)", [1, 4])
            let gate = b.value("gate\(k)", float32Type, [1, 4])
            b.op(.builtin(.slice, options: nil), [p, begin, size], [gate])
            b.output(gate)
        }
        var m = b.model
        XCTAssertFalse(try runVerified([SlicesAsSplit()], on: &m))
    }

    // MARK: concatenate-before-quantize

    private func quantizedParts(frameScale: Float = 0.004) -> Model {
        var b = PassGraphBuilder()
        let state = b.input("state", float32Type, [1, 2, 4])
        let frame = b.input("frame", float32Type, [1, 1, 4])
        let qs = b.value("qs", int8Type(0.004, -128), [1, 2, 4])
        let qf = b.value("qf", int8Type(frameScale, -128), [1, 1, 4])
        let y = b.value("window", int8Type(0.004, -128), [1, 3, 4])
        b.op(.quantize, [state], [qs])
        b.op(.quantize, [frame], [qf])
        b.op(.concatenation(axis: 1, activation: .none), version: 2, [qs, qf], [y])
        b.output(y)
        return b.model
    }

    func testConcatenateBeforeQuantizeGolden() throws {
        let given = quantizedParts()
        var m = given
        XCTAssertTrue(try runVerified([ConcatenateBeforeQuantize(), Cleanup()], on: &m))
        GoldenIR.check("concatenate-before-quantize", given: given, passes: "concatenate-before-quantize, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["CONCATENATION", "QUANTIZE"])
        let state = RuntimeTensor(shape: [1, 2, 4], floats: [0, 0.001, 0.0019, 0.002, 0.5, 0.77, 1.2, -0.3])!
        let frame = RuntimeTensor(shape: [1, 1, 4], floats: [0.0061, 0.9999, 0.25, 0.006])!
        XCTAssertEqual(try run(m, [state, frame]), try run(given, [state, frame]))
    }

    func testConcatenateBeforeQuantizeNeedsEqualParameters() throws {
        var m = quantizedParts(frameScale: 0.005)
        XCTAssertFalse(try runVerified([ConcatenateBeforeQuantize()], on: &m))
    }

    // MARK: The fixtures, through --optimize memory

    func testOptimizeMemoryOnTheStreamingKeywordModel() throws {
        var m = try fixture("streaming/kws_stream_int8.tflite")
        let before = try ArenaReport.analyze(m, build: .standard(.bits64))
        var pass = OptimizeMemory(build: .standard(.bits64))
        var context = PassContext()
        XCTAssertTrue(try pass.run(on: &m, context: &context))
        let after = try ArenaReport.analyze(m, build: .standard(.bits64))
        // TFLM's Python package measured these (Tests/Conformance/test_optimize_memory.py).
        XCTAssertEqual(before.minArenaBytes, 8096)
        XCTAssertEqual(after.minArenaBytes, 6744)
        XCTAssertTrue(context.notes.contains { $0.contains("conv-as-fully-connected + reshape-into-fully-connected") }, "\(context.notes)")
        XCTAssertFalse(liveOpNames(m).contains("CONV_2D"))
        XCTAssertFalse(liveOpNames(m).contains("STRIDED_SLICE"))
        XCTAssertEqual(Verifier.verify(m).map(\.description), [])
    }
}
