import TestSupport
import XCTest

@testable import TFRewrite

final class FoldShapesTests: XCTestCase {
    /// Keras Flatten with batch None: SHAPE → STRIDED_SLICE → PACK → RESHAPE.
    func flattenChain() throws -> Model {
        try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[?,1,1,64] q(0.1, -128)
              const %1 "begin": i32[1] = [0]
              const %2 "end": i32[1] = [1]
              const %3 "units": i32[] = [64]
              #0 SHAPE v1 {out_type=INT32} (%0) -> %4 "shape": i32[4]
              #1 STRIDED_SLICE v1 {begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=1} (%4, %1, %2, %2) -> %5 "batch": i32[]
              #2 PACK v1 {values_count=2, axis=0} (%5, %3) -> %6 "packed": i32[2]
              #3 RESHAPE v1 (%0, %6) -> %7 "y": i8[?,64] q(0.1, -128)
              #4 SOFTMAX v2 {beta=1.0} (%7) -> %8 "z": i8[?,64] q(0.00390625, -128)
              output %8

            """)
    }

    func testFlattenChainFoldsWithBatchGolden() throws {
        let given = try flattenChain()
        var m = given
        var ctx = PassContext(batch: 1)
        XCTAssertTrue(try runVerified([FoldShapes(), Cleanup()], on: &m, context: &ctx))
        GoldenIR.check("fold-shapes.flatten", given: given, passes: "fold-shapes (batch 1), cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["RESHAPE", "SOFTMAX"])
        XCTAssertEqual(ctx.notes, [])
    }

    func testBatchOptionWinsAndSetsStaticShapes() throws {
        var m = try flattenChain()
        var ctx = PassContext(batch: 1)
        try runVerified([try FoldShapes(options: PassOptions(["batch": .int(4)])), Cleanup()], on: &m, context: &ctx)
        let g = m.subgraphs[0]
        XCTAssertEqual(g[g.inputs[0]].shape, [4, 1, 1, 64])
        XCTAssertEqual(g[g.inputs[0]].shapeSignature, [4, 1, 1, 64])
        XCTAssertEqual(m.constant(g.ops[0].inputs[1])?.integers, [4, 64])
        XCTAssertEqual(g[g.ops[0].outputs[0]].shape, [4, 64])
        XCTAssertFalse(g[g.ops[0].outputs[0]].isDynamic)
    }

    func testDynamicBatchWithoutBatchIsLeftWithANote() throws {
        var m = try flattenChain()
        var ctx = PassContext()
        XCTAssertFalse(try runVerified([FoldShapes()], on: &m, context: &ctx))
        XCTAssertEqual(liveOpNames(m), ["SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE", "SOFTMAX"])
        XCTAssertTrue(ctx.notes.contains { $0.contains("give the batch") }, "\(ctx.notes)")
    }

    func testStaticShapeFoldsWithoutBatch() throws {
        var m = try flattenChain()
        for i in m.subgraphs[0].values.indices { m.subgraphs[0].values[i].shapeSignature = nil }
        XCTAssertTrue(try runVerified([FoldShapes(), Cleanup()], on: &m))
        XCTAssertEqual(liveOpNames(m), ["RESHAPE", "SOFTMAX"])
    }

    func testGraphOutputsAreNotFolded() throws {
        let given = """
            subgraph 0 "main"
              input %0 "x": f32[2,3]
              #0 SHAPE v1 {out_type=INT32} (%0) -> %1 "s": i32[2]
              output %1

            """
        var m = try IRParser.parse(given)
        XCTAssertFalse(try runVerified([FoldShapes()], on: &m))
        XCTAssertEqual(IRPrinter.print(m), given)
    }

    func testArithmeticAndGatherChain() throws {
        // shape(x) = [2,3,4]; gather [2,0] → [4,2]; ×3 → [12,6]; −[2] → [10,4]; ÷[3,-3] → [3,-1];
        // floor_div by [2,2] → [1,-1]; concat with [5] → [1,-1,5]; reshape of the constant.
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [2, 3, 4])
        let idx = b.ints("idx", [2, 0])
        let three = b.ints("three", [3], shape: [])
        let two = b.ints("two", [2])
        let divisor = b.ints("divisor", [3, -3])
        let twos = b.ints("twos", [2, 2])
        let five = b.ints("five", [5])
        let names = ["shape", "g", "m", "s", "d", "f", "c"]
        let shapes: [[Int32]] = [[3], [2], [2], [2], [2], [2], [3]]
        let v = zip(names, shapes).map { b.value($0, int32Type, $1) }
        b.op(.shape(outType: .int32), [x], [v[0]])
        b.op(.gather(axis: 0, batchDims: 0), [v[0], idx], [v[1]])
        b.op(.mul(activation: .none), [v[1], three], [v[2]])
        b.op(.sub(ArithmeticAttributes()), [v[2], two], [v[3]])
        b.op(.builtin(.div, options: nil), [v[3], divisor], [v[4]])
        b.op(.builtin(BuiltinOperator(name: "FLOOR_DIV")!, options: nil), [v[4], twos], [v[5]])
        b.op(.concatenation(axis: 0, activation: .none), [v[5], five], [v[6]])
        let data = b.ints("data", [1, 2, 3, 4, 5, 6])
        let r = b.value("r", int32Type, [2, 3])
        b.op(.reshape(newShape: nil), [data, b.ints("rs", [2, -1])], [r])
        let out = b.value("out", float32Type, [2, 3, 4])
        b.op(.reshape(newShape: nil), [x, b.ints("same", [2, 3, 4])], [out])
        let sum = b.value("sum", int32Type, [2, 3])
        let zr = b.input("zr", int32Type, [2, 3])
        b.op(.add(ArithmeticAttributes()), [r, zr], [sum])
        let tail = b.value("tail", int32Type, [3])
        b.op(.add(ArithmeticAttributes()), [v[6], b.input("zt", int32Type, [3])], [tail])
        b.output(out)
        b.output(sum)
        b.output(tail)
        var m = b.model
        XCTAssertTrue(try runVerified([FoldShapes()], on: &m))
        let g = m.subgraphs[0]
        XCTAssertEqual(liveOpNames(m), ["RESHAPE", "ADD", "ADD"])
        XCTAssertEqual(m.constant(v[6])?.integers, [1, -1, 5])
        XCTAssertEqual(m.constant(r)?.integers, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(m.constant(r)?.shape, [2, 3])
        XCTAssertEqual(g.ops[2].inputs[0], v[6])
    }

    /// A fused activation is more than shape arithmetic: those ops stay (their table entries
    /// decline them).
    func testOpsWithAFusedActivationAreLeftAlone() throws {
        var b = PassGraphBuilder()
        let one = b.ints("one", [1])
        let two = b.ints("two", [2])
        let kinds: [OpKind] = [.add(ArithmeticAttributes(activation: .relu)), .mul(activation: .relu6), .concatenation(axis: 0, activation: .relu)]
        for (i, kind) in kinds.enumerated() {
            let y = b.value("y\(i)", int32Type, [kind.builtinOperator == .concatenation ? 2 : 1])
            b.op(kind, [one, two], [y])
            let z = b.value("z\(i)", int32Type, [1])
            b.op(.reshape(newShape: nil), [b.input("x\(i)", int32Type, [1]), y], [z])
            b.output(z)
        }
        var m = b.model
        _ = try runVerified([FoldShapes()], on: &m)
        XCTAssertEqual(liveOpNames(m), ["ADD", "RESHAPE", "MUL", "RESHAPE", "CONCATENATION", "RESHAPE"])
    }

    func testRefusesWhatTheKernelWouldReject() {
        let x = IntTensor(dtype: .int32, shape: [3], values: [1, 2, 3])
        XCTAssertNil(ShapeArithmetic.gather(x, indices: IntTensor(dtype: .int32, shape: [1], values: [3]), axis: 0, batchDims: 0))
        XCTAssertNil(ShapeArithmetic.broadcast(x, IntTensor(dtype: .int32, shape: [1], values: [0]), ShapeArithmetic.divide))
        XCTAssertNil(ShapeArithmetic.broadcast(IntTensor(dtype: .int32, shape: [1], values: [Int64(Int32.max)]), x, ShapeArithmetic.add), "int32 overflow must not wrap")
        XCTAssertNotNil(ShapeArithmetic.broadcast(IntTensor(dtype: .int64, shape: [1], values: [Int64(Int32.max)]), IntTensor(dtype: .int64, shape: [3], values: [1, 2, 3]), ShapeArithmetic.add))
        XCTAssertNil(ShapeArithmetic.stridedSlice(x, begin: [3], end: [4], strides: [1], StridedSliceAttributes(shrinkAxisMask: 1)))
        XCTAssertNil(ShapeArithmetic.stridedSlice(x, begin: [0], end: [3], strides: [0], StridedSliceAttributes()))
        XCTAssertNil(ShapeArithmetic.reshapeDimensions([-1, -1], elementCount: 4))
        XCTAssertNil(ShapeArithmetic.reshapeDimensions([3, -1], elementCount: 4))
        XCTAssertEqual(ShapeArithmetic.reshapeDimensions([2, -1], elementCount: 4), [2, 2])
        XCTAssertEqual(ShapeArithmetic.floorDivide(-7, 2), -4)
        XCTAssertEqual(ShapeArithmetic.divide(-7, 2), -3)
        XCTAssertEqual(ShapeArithmetic.floorDivide(7, -2), -4)
        XCTAssertEqual(ShapeArithmetic.floorDivide(-8, 2), -4)
    }

    func testStridedSliceExamples() {
        // Worked by hand from numpy indexing of x = arange(24).reshape(2,3,4).
        let x = IntTensor(dtype: .int32, shape: [2, 3, 4], values: (0..<24).map(Int64.init))
        func ss(_ b: [Int64], _ e: [Int64], _ s: [Int64], _ a: StridedSliceAttributes) -> IntTensor? {
            ShapeArithmetic.stridedSlice(x, begin: b, end: e, strides: s, a)
        }
        // x[1, :, ::-2] → shape [3,2]: rows 12..15, 16..19, 20..23 taken at 15,13 …
        XCTAssertEqual(ss([1, 0, 0], [2, 0, 0], [1, 1, -2], StridedSliceAttributes(beginMask: 6, endMask: 6, shrinkAxisMask: 1)),
                       IntTensor(dtype: .int32, shape: [3, 2], values: [15, 13, 19, 17, 23, 21]))
        // x[..., 1] → shape [2,3]
        XCTAssertEqual(ss([0, 1], [0, 2], [1, 1], StridedSliceAttributes(ellipsisMask: 1, shrinkAxisMask: 2)),
                       IntTensor(dtype: .int32, shape: [2, 3], values: [1, 5, 9, 13, 17, 21]))
        // x[np.newaxis, -1, 1:] → shape [1,2,4]
        XCTAssertEqual(ss([0, -1, 1], [0, 0, 0], [1, 1, 1], StridedSliceAttributes(endMask: 4, newAxisMask: 1, shrinkAxisMask: 2)),
                       IntTensor(dtype: .int32, shape: [1, 2, 4], values: [16, 17, 18, 19, 20, 21, 22, 23]))
        // offset: begin 1, end = begin + 2 along the last axis of x[0, 0] → [1, 2]
        XCTAssertEqual(ss([0, 0, 1], [0, 0, 2], [1, 1, 1], StridedSliceAttributes(shrinkAxisMask: 3, offset: true)),
                       IntTensor(dtype: .int32, shape: [2], values: [1, 2]))
        // x[5:] is empty; x[:, 10:-10:-1] clamps to [2,2,4] reversed rows
        XCTAssertEqual(ss([5], [0], [1], StridedSliceAttributes(endMask: 1))?.shape, [0, 3, 4])
        XCTAssertEqual(ss([0, 10], [0, -10], [1, -1], StridedSliceAttributes(beginMask: 1, endMask: 1))?.values.prefix(4), [8, 9, 10, 11])
    }

    /// Random specs against an independent model of Python's indexing rules (which TF's
    /// strided_slice follows): the same elements, in the same order and shape.
    func testRandomStridedSlicesMatchPythonIndexing() {
        var rng = SplitMix64(seed: 20261125)
        var compared = 0
        for _ in 0..<3000 {
            let rank = Int.random(in: 1...4, using: &rng)
            let shape = (0..<rank).map { _ in Int.random(in: 0...5, using: &rng) }
            let x = IntTensor(dtype: .int64, shape: shape, values: (0..<shape.reduce(1, *)).map { Int64($0) * 7 - 11 })
            let n = Int.random(in: 1...(rank + 2), using: &rng)
            func mask() -> Int32 { Int32.random(in: 0..<(1 << n), using: &rng) }
            var a = StridedSliceAttributes(beginMask: mask(), endMask: mask(), ellipsisMask: 0, newAxisMask: mask() & mask(), shrinkAxisMask: mask() & mask(), offset: Int.random(in: 0..<8, using: &rng) == 0)
            if Bool.random(using: &rng) { a.ellipsisMask = 1 << Int32.random(in: 0..<Int32(n), using: &rng) }
            let begin = (0..<n).map { _ in Int64.random(in: -7...7, using: &rng) }
            let end = (0..<n).map { _ in Int64.random(in: -7...7, using: &rng) }
            let strides = (0..<n).map { _ in [-3, -2, -1, 1, 1, 2, 3].randomElement(using: &rng)! } as [Int64]
            let ours = ShapeArithmetic.stridedSlice(x, begin: begin, end: end, strides: strides, a)
            let reference = PythonIndexing.slice(x, begin: begin, end: end, strides: strides, a)
            if let ours {
                XCTAssertEqual(ours, reference, "shape \(shape) begin \(begin) end \(end) strides \(strides) \(a)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 1000, "too few cases were folded to mean anything")
    }

    /// Constant folding of a float STRIDED_SLICE uses the same geometry: the same elements as
    /// shape folding on random specs, the `offset` flag honoured (it was ignored before the two
    /// shared one implementation), and the slices TF and TFLite read differently refused.
    func testConstantFoldingSlicesLikeShapeFolding() throws {
        var rng = SplitMix64(seed: 7)
        var compared = 0
        for _ in 0..<1500 {
            let rank = Int.random(in: 1...3, using: &rng)
            let shape = (0..<rank).map { _ in Int.random(in: 0...4, using: &rng) }
            let count = shape.reduce(1, *)
            let ints = IntTensor(dtype: .int32, shape: shape, values: (0..<count).map(Int64.init))
            let floats = ConstantTensor(floats: (0..<count).map(Float.init), shape: shape.map(Int32.init))
            let n = Int.random(in: 1...(rank + 1), using: &rng)
            func mask() -> Int32 { Int32.random(in: 0..<(1 << n), using: &rng) }
            let a = StridedSliceAttributes(beginMask: mask(), endMask: mask(), newAxisMask: mask() & mask(), shrinkAxisMask: mask() & mask(),
                                           offset: Bool.random(using: &rng))
            let begin = (0..<n).map { _ in Int64.random(in: -5...5, using: &rng) }
            let end = (0..<n).map { _ in Int64.random(in: -5...5, using: &rng) }
            let strides = (0..<n).map { _ in [-2, -1, 1, 2].randomElement(using: &rng)! } as [Int64]
            let folded = ShapeArithmetic.stridedSlice(ints, begin: begin, end: end, strides: strides, a)
            let index = { (v: [Int64]) in ConstantTensor(.int32, shape: [Int32(n)], values: v.map(Int32.init)) }
            let evaluated = ConstantEvaluator.evaluate(.stridedSlice(a), inputs: [floats, index(begin), index(end), index(strides)],
                                                       outputs: [Value(name: "y", type: ElementType(.float32), shape: [])])?.first
            XCTAssertEqual(evaluated.map { $0.floats.map(Int64.init) }, folded?.values, "shape \(shape) begin \(begin) end \(end) strides \(strides) \(a)")
            XCTAssertEqual(evaluated?.shape.map(Int.init), folded?.shape)
            if folded != nil { compared += 1 }
        }
        XCTAssertGreaterThan(compared, 500)
        // x[1:][:2] with offset: end counts from begin.
        let seq = ConstantTensor(floats: (0..<7).map(Float.init), shape: [7])
        let one = { (v: Int32) in ConstantTensor(.int32, shape: [1], values: [v]) }
        let y = ConstantEvaluator.evaluate(.stridedSlice(StridedSliceAttributes(offset: true)), inputs: [seq, one(1), one(2), one(1)],
                                           outputs: [Value(name: "y", type: ElementType(.float32), shape: [2])])
        XCTAssertEqual(y?.first?.floats, [1, 2])
        // begin_mask on a shrunk axis: TF ignores it, TFLite honours it: not folded.
        XCTAssertNil(ConstantEvaluator.evaluate(.stridedSlice(StridedSliceAttributes(beginMask: 1, shrinkAxisMask: 1)), inputs: [seq, one(3), one(4), one(1)],
                                                outputs: [Value(name: "y", type: ElementType(.float32), shape: [])]))
    }

    /// Concatenation with dimensions a hostile file can declare on empty tensors: a sum past
    /// Int32.max, or products of the other dimensions past Int.max, give "cannot fold" (nil),
    /// not a trap; shape folding's PACK and CONCATENATION run on the same code.
    func testConcatenationOfHugeEmptyTensorsIsRefused() {
        let wide = ConstantTensor(type: ElementType(.float32), shape: [0, Int32.max], bytes: [])
        XCTAssertNil(ConstantEvaluator.concatenate([wide, wide], axis: 1))
        XCTAssertEqual(ConstantEvaluator.concatenate([wide, wide], axis: 0)?.shape, [0, Int32.max])
        let deep = ConstantTensor(type: ElementType(.float32), shape: [Int32.max, Int32.max, Int32.max, 0], bytes: [])
        XCTAssertNil(ConstantEvaluator.concatenate([deep, deep], axis: 3))
        let short = ConstantTensor(type: ElementType(.float32), shape: [2, 2], bytes: [0, 0, 0, 0])
        XCTAssertNil(ConstantEvaluator.concatenate([short, short], axis: 0), "fewer bytes than the shape says")
        let x = IntTensor(dtype: .int32, shape: [2], values: [1, 2])
        XCTAssertEqual(ShapeArithmetic.pack([x, x], axis: -1), IntTensor(dtype: .int32, shape: [2, 2], values: [1, 1, 2, 2]))
        XCTAssertEqual(ShapeArithmetic.concatenate([x, x], axis: 0), IntTensor(dtype: .int32, shape: [4], values: [1, 2, 1, 2]))
        XCTAssertNil(ShapeArithmetic.concatenate([x, IntTensor(dtype: .int64, shape: [1], values: [3])], axis: 0), "dtypes differ")
    }

    /// An empty tensor may still have a huge dimension: the geometry is arithmetic, nothing the
    /// size of that dimension is allocated.
    func testSlicingAnEmptyTensorWithAHugeDimension() throws {
        let huge = Int(Int32.max)
        let g = try StridedSliceGeometry(shape: [0, huge], begin: [0, 1], end: [0, 0], strides: [1, 2],
                                         attributes: StridedSliceAttributes(beginMask: 1, endMask: 3))
        XCTAssertEqual(g.outputShape, [0, (huge - 1 + 1) / 2])
        XCTAssertEqual(g.sourceOffsets(inputShape: [0, huge]), [])
        let empty = ConstantTensor(type: ElementType(.float32), shape: [0, Int32.max], bytes: [])
        XCTAssertEqual(g.apply(to: empty).bytes, [])
    }

    func testDSCNNFixtureChainsDisappear() throws {
        for name in ["ds_cnn_int8.tflite", "ds_cnn_float.tflite"] {
            var m = try repairFixture(name)
            var ctx = PassContext(batch: 1)
            XCTAssertTrue(try runVerified([FoldShapes(), Cleanup()], on: &m, context: &ctx), name)
            let names = liveOpNames(m)
            XCTAssertFalse(names.contains("SHAPE") || names.contains("STRIDED_SLICE") || names.contains("PACK"), "\(name): \(names)")
            XCTAssertEqual(names, ["RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
            let g = m.subgraphs[0]
            XCTAssertFalse(g.values.contains { $0.isDynamic }, name)
            let reshapes = g.ops.filter { $0.name == "RESHAPE" }
            XCTAssertEqual(reshapes.map { m.constant($0.inputs[1])?.integers ?? [] }, [[1, 49, 10, 1], [1, 64]])
            XCTAssertEqual(reshapes.map { g[$0.outputs[0]].shape }, [[1, 49, 10, 1], [1, 64]])
        }
    }

    func testOptionErrors() {
        XCTAssertThrowsError(try FoldShapes(options: PassOptions(["batch": .int(0)], location: "x.yaml:2"))) { e in
            XCTAssertEqual("\(e)", "x.yaml:2: pass fold-shapes: option 'batch': expected an integer in 1...2147483647, got 0")
        }
        XCTAssertThrowsError(try FoldShapes(options: PassOptions(["batch": .string("1")]))) { e in
            XCTAssertEqual("\(e)", "pass fold-shapes: option 'batch': expected an integer, got 1")
        }
    }
}

/// Python's indexing rules (slice.indices; ellipsis; np.newaxis; integer index), written
/// independently of ShapeArithmetic to check it.
enum PythonIndexing {
    enum Item { case ellipsis, newAxis, index(Int64), slice(Int64?, Int64?, Int64, offset: Bool) }

    static func slice(_ x: IntTensor, begin: [Int64], end: [Int64], strides: [Int64], _ a: StridedSliceAttributes) -> IntTensor? {
        func bit(_ m: Int32, _ i: Int) -> Bool { m & (1 << Int32(i)) != 0 }
        var items: [Item] = []
        for i in begin.indices {
            if bit(a.ellipsisMask, i) { items.append(.ellipsis) }
            else if bit(a.newAxisMask, i) { items.append(.newAxis) }
            else if bit(a.shrinkAxisMask, i) { items.append(.index(begin[i])) }
            else { items.append(.slice(bit(a.beginMask, i) ? nil : begin[i], bit(a.endMask, i) ? nil : end[i], strides[i], offset: a.offset)) }
        }
        if !items.contains(where: { if case .ellipsis = $0 { return true } else { return false } }) { items.append(.ellipsis) }
        let consuming = items.filter { if case .ellipsis = $0 { return false }; if case .newAxis = $0 { return false }; return true }.count
        guard consuming <= x.shape.count else { return nil }
        // Expand the ellipsis to full slices.
        var expanded: [Item] = []
        for it in items {
            if case .ellipsis = it {
                for _ in 0..<(x.shape.count - consuming) { expanded.append(.slice(nil, nil, 1, offset: false)) }
            } else {
                expanded.append(it)
            }
        }
        var lists: [[Int]] = []
        var outShape: [Int] = []
        var d = 0
        for it in expanded {
            switch it {
            case .ellipsis: break
            case .newAxis: outShape.append(1)
            case .index(let k):
                let len = Int64(x.shape[d])
                let j = k < 0 ? k + len : k
                guard j >= 0, j < len else { return nil }
                lists.append([Int(j)])
                d += 1
            case .slice(let start, let stop, let step, let offset):
                let len = Int64(x.shape[d])
                let (lower, upper): (Int64, Int64) = step > 0 ? (0, len) : (-1, len - 1)
                let s = start.map { $0 < 0 ? max($0 + len, lower) : min($0, upper) } ?? (step < 0 ? upper : lower)
                var e: Int64
                if let stop {
                    let raw = offset ? stop + s : stop
                    e = raw < 0 ? max(raw + len, lower) : min(raw, upper)
                } else {
                    e = step < 0 ? lower : upper
                }
                var r: [Int] = []
                var k = s
                while step > 0 ? k < e : k > e { r.append(Int(k)); k += step }
                lists.append(r)
                outShape.append(r.count)
                d += 1
            }
        }
        // Cartesian product in row-major order.
        var strides = [Int](repeating: 1, count: x.shape.count)
        for i in stride(from: x.shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * x.shape[i + 1] }
        var offsets = [0]
        for (dim, l) in lists.enumerated() { offsets = offsets.flatMap { o in l.map { o + $0 * strides[dim] } } }
        return IntTensor(dtype: x.dtype, shape: outShape, values: offsets.map { x.values[$0] })
    }
}
