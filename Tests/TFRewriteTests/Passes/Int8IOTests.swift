import XCTest

@testable import TFRewrite

final class Int8IOTests: XCTestCase {
    func qdqModel() -> Model {
        var b = PassGraphBuilder()
        let x = b.input("image", float32Type, [1, 4])
        let q = b.value("tfl.quantize", int8Type(0.02, -5), [1, 4])
        let r = b.value("relu", int8Type(0.02, -5), [1, 4])
        let y = b.value("Identity", float32Type, [1, 4])
        b.op(.quantize, [x], [q])
        b.op(.relu, version: 2, [q], [r])
        b.op(.dequantize, version: 2, [r], [y])
        b.output(y)
        var m = b.model
        m.signatureDefs = [SignatureDef(key: "serving_default", inputs: [.init(name: "image", tensor: x)], outputs: [.init(name: "out", tensor: y)], subgraph: 0)]
        return m
    }

    func testGolden() throws {
        let given = qdqModel()
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([Int8IO(), Cleanup()], on: &m, context: &ctx))
        GoldenIR.check("int8-io.basic", given: given, passes: "int8-io, cleanup", result: m)
        let g = m.subgraphs[0]
        XCTAssertEqual(g[g.inputs[0]].name, "image")
        XCTAssertEqual(g[g.outputs[0]].name, "Identity")
        XCTAssertEqual(m.signatureDefs[0].inputs[0].tensor, g.inputs[0])
        XCTAssertEqual(m.signatureDefs[0].outputs[0].tensor, g.outputs[0])
        XCTAssertEqual(ctx.notes, [
            "int8-io: input 0 \"image\" is now int8: quantize as q = round(x / 0.02) + -5",
            "int8-io: output 0 \"Identity\" is now int8: dequantize as x = (q - -5) * 0.02",
        ])
    }

    func testOnlyInputsOrOutputs() throws {
        var m = qdqModel()
        try runVerified([try Int8IO(options: PassOptions(["outputs": .bool(false)]))], on: &m)
        XCTAssertEqual(liveOpNames(m), ["RELU", "DEQUANTIZE"])
        var n = qdqModel()
        try runVerified([try Int8IO(options: PassOptions(["inputs": .bool(false)]))], on: &n)
        XCTAssertEqual(liveOpNames(n), ["QUANTIZE", "RELU"])
    }

    func testLeavesSharedOrOddIO() throws {
        // The float input is also read by another op; the output also feeds another op;
        // a per-channel or int16 quantize is not int8 per-tensor.
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 4])
        let q = b.value("q", int8Type(0.1, 0), [1, 4])
        let other = b.value("other", float32Type, [1, 4])
        let y = b.value("y", float32Type, [1, 4])
        let z = b.value("z", float32Type, [1, 4])
        b.op(.quantize, [x], [q])
        b.op(.relu, [x], [other])
        b.op(.dequantize, version: 2, [q], [y])
        b.op(.relu, [y], [z])
        b.output(y)
        b.output(z)
        b.output(other)
        var m = b.model
        XCTAssertFalse(try runVerified([Int8IO()], on: &m))

        var c = PassGraphBuilder()
        let x16 = c.input("x", float32Type, [1, 4])
        let q16 = c.value("q", ElementType(.int16, quantization: .perTensor(scale: 0.1, zeroPoint: 0)), [1, 4])
        let y16 = c.value("y", float32Type, [1, 4])
        c.op(.quantize, [x16], [q16])
        c.op(.dequantize, [q16], [y16])
        c.output(y16)
        var m16 = c.model
        XCTAssertFalse(try runVerified([Int8IO()], on: &m16))
    }

    func testFixture() throws {
        var m = try repairFixture("qdq_float_io.tflite")
        let inScale = m.subgraphs[0][m.subgraphs[0].ops[0].outputs[0]].quantization
        try runVerified([Int8IO(), Cleanup()], on: &m)
        XCTAssertEqual(liveOpNames(m), ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"])
        let g = m.subgraphs[0]
        XCTAssertEqual(g[g.inputs[0]].dtype, .int8)
        XCTAssertEqual(g[g.inputs[0]].name, "image")
        XCTAssertEqual(g[g.inputs[0]].quantization, inScale)
        XCTAssertEqual(g[g.outputs[0]].dtype, .int8)
        XCTAssertEqual(g[g.outputs[0]].name, "Identity")
        // inspect's input line shows how to quantize.
        let report = ModelReport(model: try exportAndImport(m), path: "m.tflite").text()
        XCTAssertTrue(report.contains("quantize as q = round(x / 0.0038606469) + -128") || report.contains("0.0038606469"), report)
    }
}
