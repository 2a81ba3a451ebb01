import FlatBuffers
import XCTest

@testable import TFRewrite

final class IRTests: XCTestCase {
    func testTransposeMovesPerChannelAxis() {
        // [O=2, H=1, W=2, I=1] → [1, H, W, O]: OHWI → 1HWO as conv-to-depthwise needs.
        let q = Quantization(scales: [0.5, 0.25], zeroPoints: [0, 0], axis: 0)
        let t = ConstantTensor(.int8, shape: [2, 1, 2, 1], values: [Int8(1), 2, 3, 4], quantization: q)
        let u = t.transposed([3, 1, 2, 0], layout: .oneHWO)
        XCTAssertEqual(u.shape, [1, 1, 2, 2])
        XCTAssertEqual(u.scalars(Int8.self), [1, 3, 2, 4])
        XCTAssertEqual(u.type.quantization?.axis, 3)
        XCTAssertEqual(u.type.quantization?.scales, [0.5, 0.25])
        XCTAssertEqual(u.layout, .oneHWO)
        // And back.
        let v = u.transposed([3, 1, 2, 0], layout: .ohwi)
        XCTAssertEqual(v.scalars(Int8.self), t.scalars(Int8.self))
        XCTAssertEqual(v.type.quantization?.axis, 0)
    }

    func testCompactRestoresExecutionOrder() {
        var m = tinyFullyConnectedModel()
        // Insert a RELU that feeds the FC (appended at the end), then erase nothing: compact must move it first.
        let x = m.main.inputs[0]
        let r = m.main.addValue(Value(name: "r", type: ElementType(.float32), shape: [1, 4]))
        m.main.addOp(Op(kind: .relu, inputs: [x], outputs: [r]))
        m.main.ops[0].inputs[0] = r
        XCTAssertTrue(m.main.compact())
        XCTAssertEqual(m.main.ops.map(\.name), ["RELU", "FULLY_CONNECTED"])
        XCTAssertEqual(Verifier.verify(m), [])
        // A cycle is reported, not looped on.
        m.main.ops[0].inputs[0] = m.main.ops[1].outputs[0]
        XCTAssertFalse(m.main.compact())
    }

    func testVerifierFindsBrokenInvariants() {
        var m = tinyFullyConnectedModel()
        XCTAssertEqual(Verifier.verify(m), [])
        m.main.values[3].shape = [1, 5]
        XCTAssertTrue(Verifier.verify(m).contains { $0.message.contains("does not end in 3 units") }, "\(Verifier.verify(m))")
        m = tinyFullyConnectedModel()
        m.main.values[2].shape = [4]  // bias of 4 for 3 units; the buffer is 12 bytes
        let problems = Verifier.verify(m).map(\.message)
        XCTAssertTrue(problems.contains { $0.contains("constant has 12 bytes") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("bias has 4 elements") }, "\(problems)")
    }

    func testVerifierChecksInt8Spec() {
        var m = tinyFullyConnectedModel()
        let g = m.main
        // Make the FC int8 with a non-zero weight zero point and a wrong bias scale.
        m.main.values[0].type = ElementType(.int8, quantization: .perTensor(scale: 0.5, zeroPoint: 0))
        m.main.values[3].type = ElementType(.int8, quantization: .perTensor(scale: 0.1, zeroPoint: 0))
        let w = ConstantTensor(.int8, shape: [3, 4], values: [Int8](repeating: 1, count: 12), quantization: .perTensor(scale: 0.01, zeroPoint: 3))
        m.setConstant(g.ops[0].inputs[1], w)
        let b = ConstantTensor(.int32, shape: [3], values: [Int32(1), 2, 3], quantization: .perTensor(scale: 0.02, zeroPoint: 0))
        m.setConstant(g.ops[0].inputs[2], b)
        let problems = Verifier.verify(m).map(\.message)
        XCTAssertTrue(problems.contains { $0.contains("zero point 0") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("bias scale") }, "\(problems)")
    }

    func testGreedyDriverReportsNonConvergence() throws {
        var m = tinyFullyConnectedModel()
        // A pattern that always "changes" something never converges.
        let flip = Pattern(name: "flip-activation", rootKinds: [.fullyConnected]) { rw, id in
            var op = rw[id]
            op.kind.fusedActivation = op.kind.fusedActivation == .relu ? ActivationFunction.none : .relu
            rw[id] = op
            return true
        }
        var ctx = PassContext()
        XCTAssertThrowsError(try GreedyRewriteDriver(patterns: [flip], passName: "test", maxIterations: 5).run(on: &m, context: &ctx)) { e in
            XCTAssertEqual("\(e)", "pass test did not converge after 5 iterations (still firing: flip-activation)")
        }
        XCTAssertEqual(ctx.statistics["flip-activation"], nil)  // the context is not committed on failure
    }

    func testGreedyDriverFiresPatternsAndCounts() throws {
        var m = tinyFullyConnectedModel()
        let clear = Pattern(name: "clear-relu", rootKinds: [.fullyConnected]) { rw, id in
            guard rw[id].kind.fusedActivation == .relu else { return false }
            rw[id].kind.fusedActivation = ActivationFunction.none
            return true
        }
        var ctx = PassContext()
        XCTAssertTrue(try GreedyRewriteDriver(patterns: [clear], passName: "test").run(on: &m, context: &ctx))
        XCTAssertEqual(ctx.statistics["clear-relu"], 1)
        XCTAssertEqual(m.main.ops[0].kind.fusedActivation, ActivationFunction.none)
    }

    func testJSONIsStableAndEscaped() {
        let j = JSON.object([("b", .int(1)), ("a", .string("q\"\n")), ("f", .float(0.00390625)), ("l", .ints([1, -2]))])
        XCTAssertEqual(j.rendered(indent: nil), #"{"b":1,"a":"q\"\n","f":0.00390625,"l":[1,-2]}"#)
    }

    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        XCTAssertEqual(SHA256.hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
