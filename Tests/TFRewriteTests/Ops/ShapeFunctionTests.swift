import TestSupport
import XCTest

@testable import TFRewrite

/// The operators' shape functions (`OperatorDefinition.shape`), one test per family on graphs
/// written as text, and the verifier's check that a static output has the inferred shape.
final class ShapeFunctionTests: XCTestCase {
    /// Operators with a kernel that do not declare a shape function yet. This list may only shrink.
    /// Control flow: the output shapes come from the called subgraphs, which a shape function
    /// of the op alone cannot see.
    static let kernelsWithoutShapeFunction: Set<BuiltinOperator> = [
        .whileLoop, .ifThenElse, .callOnce,
    ]

    /// The shapes op #`op` of the graph's first subgraph infers.
    func inferred(_ text: String, op: Int = 0) throws -> [[Int32]]? {
        let m = try IRParser.parse(text)
        let g = m.subgraphs[0]
        let o = g.ops[op]
        let shape = try XCTUnwrap(OperatorTable[o.builtinOperator]?.shape, "\(o.builtinOperator) has no shape function")
        return shape(Verifier.shapeInference(o, g, m))
    }

    func problems(_ text: String) throws -> [String] {
        Verifier.verify(try IRParser.parse(text)).map(\.description)
    }

    /// A graph `input %0 … → op → %N`, with extra constants between.
    func graph(_ lines: String) -> String {
        "subgraph 0 \"main\"\n" + lines.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
    }

    func testConvolutionAndDepthwise() throws {
        let conv = graph("""
            input %0 "x": f32[1,5,5,3]
            const %1 "w": f32[2,1,1,3] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
            const %2 "b": f32[2] = [0.0, 0.0]
            #0 CONV_2D v1 {padding=SAME, stride=2x2, dilation=1x1} (%0, %1, %2) -> %3 "y": f32[1,3,3,2]
            output %3
            """)
        XCTAssertEqual(try inferred(conv), [[1, 3, 3, 2]])
        XCTAssertEqual(try problems(conv), [])
        let valid = conv.replacingOccurrences(of: "padding=SAME, stride=2x2", with: "padding=VALID, stride=2x1")
            .replacingOccurrences(of: "f32[1,3,3,2]", with: "f32[1,3,5,2]")
        XCTAssertEqual(try inferred(valid), [[1, 3, 5, 2]])
        XCTAssertEqual(try problems(valid), [])
        let wrong = conv.replacingOccurrences(of: "\"y\": f32[1,3,3,2]", with: "\"y\": f32[1,3,3,4]")
        let reported = try problems(wrong)
        XCTAssertTrue(reported.contains("CONV_2D #0: output shape [1,3,3,4] != inferred [1,3,3,2]"), "\(reported)")

        // VALID, 1x3 filter dilated by 2 in width: 7 − 5 + 1 = 3 columns.
        let depthwise = graph("""
            input %0 "x": f32[1,4,7,1]
            const %1 "w": f32[1,1,3,2] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
            const %2 "b": f32[2] = [0.0, 0.0]
            #0 DEPTHWISE_CONV_2D v2 {padding=VALID, stride=1x1, dilation=1x2, depth_multiplier=2} (%0, %1, %2) -> %3 "y": f32[1,4,3,2]
            output %3
            """)
        XCTAssertEqual(try inferred(depthwise), [[1, 4, 3, 2]])
        XCTAssertEqual(try problems(depthwise), [])
    }

    func testPooling() throws {
        let pool = graph("""
            input %0 "x": f32[1,7,7,2]
            #0 MAX_POOL_2D v1 {padding=VALID, stride=2x2, filter=3x3} (%0) -> %1 "y": f32[1,3,3,2]
            output %1
            """)
        XCTAssertEqual(try inferred(pool), [[1, 3, 3, 2]])
        XCTAssertEqual(try problems(pool), [])
        let same = pool.replacingOccurrences(of: "MAX_POOL_2D v1 {padding=VALID", with: "AVERAGE_POOL_2D v1 {padding=SAME")
        XCTAssertEqual(try inferred(same), [[1, 4, 4, 2]])
        XCTAssertEqual(try problems(same), ["AVERAGE_POOL_2D #0: output shape [1,3,3,2] != inferred [1,4,4,2]"])
    }

    func testFullyConnected() throws {
        let fc = graph("""
            input %0 "x": f32[2,3,4]
            const %1 "w": f32[5,4] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
            #0 FULLY_CONNECTED v1 (%0, %1, %none) -> %2 "y": f32[6,5]
            output %2
            """)
        // 20 weights print as a hash; the parser reads that back as zeros, so write them so.
        let text = fc.replacingOccurrences(of: "[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]", with: "[" + Array(repeating: "0.0", count: 20).joined(separator: ", ") + "]")
        XCTAssertEqual(try inferred(text), [[6, 5]])
        XCTAssertEqual(try problems(text), [])
        let keep = text.replacingOccurrences(of: "v1 (", with: "v5 {keep_num_dims=true} (").replacingOccurrences(of: "f32[6,5]", with: "f32[2,3,5]")
        XCTAssertEqual(try inferred(keep), [[2, 3, 5]])
        XCTAssertEqual(try problems(keep), [])
        let wrong = text.replacingOccurrences(of: "f32[6,5]", with: "f32[3,5]")
        XCTAssertEqual(try problems(wrong), ["FULLY_CONNECTED #0: output shape [3,5] != inferred [6,5]"])
    }

    func testElementwiseBinaryBroadcasts() throws {
        for name in ["ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"] {
            let text = graph("""
                input %0 "x": f32[2,1,4]
                input %1 "y": f32[3,1]
                #0 \(name) v1 (%0, %1) -> %2 "z": f32[2,3,4]
                output %2
                """)
            XCTAssertEqual(try inferred(text), [[2, 3, 4]], name)
            XCTAssertEqual(try problems(text), [], name)
        }
        let wrong = graph("""
            input %0 "x": f32[1,4]
            input %1 "y": f32[1,8]
            #0 ADD v1 (%0, %1) -> %2 "z": f32[1,4]
            output %2
            """)
        XCTAssertNil(try inferred(wrong), "4 and 8 do not broadcast")
        let mismatch = wrong.replacingOccurrences(of: "\"x\": f32[1,4]", with: "\"x\": f32[1,1]")
        XCTAssertEqual(try problems(mismatch), ["ADD #0: output shape [1,4] != inferred [1,8]"])
    }

    func testSameShapeOps() throws {
        for (name, output) in [("RELU", "f32"), ("RELU6", "f32"), ("LOGISTIC", "f32"), ("TANH", "f32"), ("HARD_SWISH", "f32"), ("RSQRT", "f32"),
                                ("SQRT", "f32"), ("SOFTMAX v1 {beta=1.0}", "f32"), ("QUANTIZE", "i8"), ("CAST", "i32")] {
            let op = name.contains(" ") ? name : name + " v1"
            let text = graph("""
                input %0 "x": f32[2,3]
                #0 \(op) (%0) -> %1 "y": \(output)[2,3]\(output == "i8" ? " q(0.5, 0)" : "")
                output %1
                """)
            XCTAssertEqual(try inferred(text), [[2, 3]], name)
            XCTAssertEqual(try problems(text), [], name)
            XCTAssertEqual(try problems(text.replacingOccurrences(of: "[2,3]", with: "[3,2]").replacingOccurrences(of: "\"x\": f32[3,2]", with: "\"x\": f32[2,3]")),
                           ["\(name.split(separator: " ")[0]) #0: output shape [3,2] != inferred [2,3]"], name)
        }
    }

    func testReshapeSqueezeExpandDims() throws {
        let reshape = graph("""
            input %0 "x": f32[2,3,4]
            const %1 "shape": i32[2] = [-1, 6]
            #0 RESHAPE v1 (%0, %1) -> %2 "y": f32[4,6]
            output %2
            """)
        XCTAssertEqual(try inferred(reshape), [[4, 6]])
        XCTAssertEqual(try problems(reshape), [])
        XCTAssertEqual(try problems(reshape.replacingOccurrences(of: "f32[4,6]", with: "f32[6,4]")), ["RESHAPE #0: output shape [6,4] != inferred [4,6]"])
        let option = graph("""
            input %0 "x": f32[2,3,4]
            #0 RESHAPE v1 {new_shape=[2,-1]} (%0) -> %1 "y": f32[2,12]
            output %1
            """)
        XCTAssertEqual(try inferred(option), [[2, 12]])
        XCTAssertNil(try inferred(reshape.replacingOccurrences(of: "[-1, 6]", with: "[-1, 5]")), "24 elements do not fill rows of 5")
        XCTAssertNil(try inferred(reshape.replacingOccurrences(of: "[-1, 6]", with: "[-1, -1]")), "two −1")

        let squeeze = graph("""
            input %0 "x": f32[1,3,1,2]
            #0 SQUEEZE v1 {squeeze_dims=[]} (%0) -> %1 "y": f32[3,2]
            output %1
            """)
        XCTAssertEqual(try inferred(squeeze), [[3, 2]])
        XCTAssertEqual(try inferred(squeeze.replacingOccurrences(of: "squeeze_dims=[]", with: "squeeze_dims=[-2]")), [[1, 3, 2]])
        XCTAssertNil(try inferred(squeeze.replacingOccurrences(of: "squeeze_dims=[]", with: "squeeze_dims=[1]")), "dimension 1 is 3")

        let expand = graph("""
            input %0 "x": f32[3,2]
            const %1 "axis": i32[] = [-1]
            #0 EXPAND_DIMS v1 (%0, %1) -> %2 "y": f32[3,2,1]
            output %2
            """)
        XCTAssertEqual(try inferred(expand), [[3, 2, 1]])
        XCTAssertEqual(try problems(expand), [])
        XCTAssertEqual(try inferred(expand.replacingOccurrences(of: "= [-1]", with: "= [0]")), [[1, 3, 2]])
        XCTAssertNil(try inferred(expand.replacingOccurrences(of: "= [-1]", with: "= [3]")))
    }

    func testConcatenationAndPack() throws {
        let concat = graph("""
            input %0 "a": f32[2,3]
            input %1 "b": f32[2,5]
            #0 CONCATENATION v1 {axis=-1} (%0, %1) -> %2 "y": f32[2,8]
            output %2
            """)
        XCTAssertEqual(try inferred(concat), [[2, 8]])
        XCTAssertEqual(try problems(concat), [])
        XCTAssertNil(try inferred(concat.replacingOccurrences(of: "axis=-1", with: "axis=0")), "the inputs differ off the axis")
        let huge = concat.replacingOccurrences(of: "f32[2,3]", with: "f32[0,2147483647]").replacingOccurrences(of: "f32[2,5]", with: "f32[0,1]")
        XCTAssertNil(try inferred(huge), "the sum overflows int32")

        let pack = graph("""
            input %0 "a": f32[2,3]
            input %1 "b": f32[2,3]
            #0 PACK v1 {values_count=2, axis=-1} (%0, %1) -> %2 "y": f32[2,3,2]
            output %2
            """)
        XCTAssertEqual(try inferred(pack), [[2, 3, 2]])
        XCTAssertEqual(try problems(pack), [])
        XCTAssertEqual(try inferred(pack.replacingOccurrences(of: "axis=-1", with: "axis=1")), [[2, 2, 3]])
    }

    func testMeanPadTranspose() throws {
        let mean = graph("""
            input %0 "x": f32[1,4,4,8]
            const %1 "axes": i32[3] = [1, -2, 1]
            #0 MEAN v1 {keep_dims=false} (%0, %1) -> %2 "y": f32[1,8]
            output %2
            """)
        XCTAssertEqual(try inferred(mean), [[1, 8]])
        XCTAssertEqual(try problems(mean), [])
        XCTAssertEqual(try inferred(mean.replacingOccurrences(of: "keep_dims=false", with: "keep_dims=true")), [[1, 1, 1, 8]])

        let pad = graph("""
            input %0 "x": f32[1,4,4,3]
            const %1 "paddings": i32[4,2] = [0, 0, 1, 2, 0, 3, 0, 0]
            #0 PAD v1 (%0, %1) -> %2 "y": f32[1,7,7,3]
            output %2
            """)
        XCTAssertEqual(try inferred(pad), [[1, 7, 7, 3]])
        XCTAssertEqual(try problems(pad), [])
        XCTAssertNil(try inferred(pad.replacingOccurrences(of: "1, 2, 0, 3", with: "1, 2, 0, -3")), "negative padding")
        XCTAssertNil(try inferred(pad.replacingOccurrences(of: "1, 2, 0, 3", with: "1, 2, 0, 2147483647")), "overflow")
        let padV2 = pad.replacingOccurrences(of: "#0 PAD v1 (%0, %1)", with: "#0 PADV2 v1 (%0, %1, %3)")
            .replacingOccurrences(of: "input %0 \"x\": f32[1,4,4,3]", with: "input %0 \"x\": f32[1,4,4,3]\nconst %3 \"value\": f32[] = [0.0]")
        XCTAssertEqual(try inferred(padV2), [[1, 7, 7, 3]])

        let transpose = graph("""
            input %0 "x": f32[2,3,4]
            const %1 "perm": i32[3] = [2, 0, 1]
            #0 TRANSPOSE v1 (%0, %1) -> %2 "y": f32[4,2,3]
            output %2
            """)
        XCTAssertEqual(try inferred(transpose), [[4, 2, 3]])
        XCTAssertEqual(try problems(transpose), [])
        XCTAssertNil(try inferred(transpose.replacingOccurrences(of: "[2, 0, 1]", with: "[2, 2, 1]")), "not a permutation")
    }

    func testShapeGatherStridedSlice() throws {
        let text = graph("""
            input %0 "x": f32[5,3,4]
            input %1 "i": i32[2,6]
            const %2 "begin": i32[2] = [1, 0]
            const %3 "end": i32[2] = [5, 0]
            const %4 "strides": i32[2] = [2, 1]
            #0 SHAPE v1 {out_type=INT32} (%0) -> %5 "shape": i32[3]
            #1 GATHER v1 {axis=1, batch_dims=0} (%0, %1) -> %6 "g": f32[5,2,6,4]
            #2 STRIDED_SLICE v1 {begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=2} (%0, %2, %3, %4) -> %7 "s": f32[2,4]
            output %5
            output %6
            output %7
            """)
        XCTAssertEqual(try inferred(text, op: 0), [[3]])
        XCTAssertEqual(try inferred(text, op: 1), [[5, 2, 6, 4]])
        XCTAssertEqual(try inferred(text, op: 2), [[2, 4]])
        XCTAssertEqual(try problems(text), [])
        let batched = text.replacingOccurrences(of: "\"i\": i32[2,6]", with: "\"i\": i32[5,6]").replacingOccurrences(of: "axis=1, batch_dims=0", with: "axis=1, batch_dims=1")
        XCTAssertEqual(try inferred(batched, op: 1), [[5, 6, 4]])
        XCTAssertEqual(try problems(text.replacingOccurrences(of: "f32[2,4]", with: "f32[2,1,4]")), ["STRIDED_SLICE #2: output shape [2,1,4] != inferred [2,4]"])
    }

    /// A dynamic input leaves the shape unknown, and the verifier says nothing.
    func testDynamicInputIsNotChecked() throws {
        let text = graph("""
            input %0 "x": f32[?,4]
            #0 RELU v1 (%0) -> %1 "y": f32[1,8]
            output %1
            """)
        XCTAssertNil(try inferred(text))
        XCTAssertEqual(try problems(text), [])
    }

    /// On every fixture and corpus model the shape functions answer for most ops, and every
    /// answer matches the file's static output shapes.
    func testRealModelsAgreeWithTheirShapeFunctions() throws {
        func check(_ urls: [URL]) throws -> (answered: Int, ops: Int) {
            var answered = 0, ops = 0
            for url in urls {
                let m = try TFLiteImporter.load(path: url.path)
                for g in m.subgraphs {
                    for op in g.ops where !op.isErased {
                        ops += 1
                        guard let shape = OperatorTable[op.builtinOperator]?.shape, let inferred = shape(Verifier.shapeInference(op, g, m)) else { continue }
                        answered += 1
                        XCTAssertEqual(inferred.count, op.outputs.count, "\(url.lastPathComponent) \(op.name)")
                    }
                }
                XCTAssertEqual(Verifier.verify(m).map(\.description), [], url.lastPathComponent)
            }
            return (answered, ops)
        }
        let fixtures = try check(TestPaths.fixtureModels())
        XCTAssertGreaterThan(fixtures.answered * 2, fixtures.ops, "shape functions answered for \(fixtures.answered) of \(fixtures.ops) fixture ops")
        let corpus = try check(try TestPaths.corpusModels())
        XCTAssertGreaterThan(corpus.answered, 0)
        print("shape functions answered for \(fixtures.answered)/\(fixtures.ops) fixture ops, \(corpus.answered)/\(corpus.ops) corpus ops")
    }

    /// Every operator with a kernel declares its shape function, unless listed above.
    func testEveryOperatorWithAKernelHasAShapeFunction() {
        var missing: [String] = []
        for d in OperatorTable.all where d.kernel != nil && d.shape == nil && !Self.kernelsWithoutShapeFunction.contains(d.op) {
            missing.append("\(d.op)")
        }
        XCTAssertEqual(missing, [], "declare `shape:` (or list the operator, for now)")
        for op in Self.kernelsWithoutShapeFunction {
            XCTAssertNil(OperatorTable[op]?.shape, "\(op) has a shape function now: take it off the list")
        }
    }
}
