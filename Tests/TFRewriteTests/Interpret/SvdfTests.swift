import Foundation
import XCTest

@testable import TFRewrite

/// SVDF and the interpreter's variable tensors: values worked out by hand for two steps, the
/// state carried between runs and cleared by `resetVariables`. Bit-exactness with TFLM (int8
/// with int8 and int16 state, float, several steps) is in Tests/Conformance/test_interpreter.py.
final class SvdfTests: XCTestCase {
    typealias G = InterpreterTestSupport.GraphBuilder

    /// SVDFOptions (schema.fbs): field 0 rank = 1; the activation (field 1) is absent, so NONE.
    static let rankOne = OpKind.builtin(.svdf, options: OpaqueOptions(typeTag: 6, vtable: [4], inline: [1, 0, 0, 0], alignmentPhase: 0))

    /// x [1, 2] → 2 filters of rank 1 with 3 steps of memory → y [1, 2].
    func makeInterpreter() throws -> Interpreter {
        var g = G()
        let x = g.value("x", .float32, [1, 2])
        let features = g.floats("features", [2, 2], [1, 2, -1, 0.5])
        let time = g.floats("time", [2, 3], [1, 10, 100, 2, 0, -1])
        var memory = Value(name: "memory", type: ElementType(.float32), shape: [1, 6])
        memory.isVariable = true
        let state = g.graph.addValue(memory)
        let y = g.value("y", .float32, [1, 2])
        g.op(Self.rankOne, [x, features, time, .absent, state], [y])
        return try Interpreter(model: g.model(inputs: [x], outputs: [y]))
    }

    func step(_ interpreter: Interpreter, _ x: [Float]) throws -> [Float]? {
        try interpreter.run([RuntimeTensor(shape: [1, 2], floats: x)!])[0].floats
    }

    func testTheStateCarriesOverAndResets() throws {
        let interpreter = try makeInterpreter()
        XCTAssertTrue(interpreter.hasVariables)
        // Step 1: features [3, −0.5] land in each filter's last slot: 100·3 and −1·−0.5.
        XCTAssertEqual(try step(interpreter, [1, 1]), [300, 0.5])
        // Step 2: the memory moved one slot: 10·3 + 100·2, and −1·−2 (the −0.5 now meets weight 0).
        XCTAssertEqual(try step(interpreter, [2, 0]), [230, 2])
        interpreter.resetVariables()
        XCTAssertEqual(try step(interpreter, [2, 0]), [200, 2])
    }

    func testTheStateMustBeAVariable() throws {
        var g = G()
        let x = g.value("x", .float32, [1, 2])
        let features = g.floats("features", [2, 2], [1, 2, -1, 0.5])
        let time = g.floats("time", [2, 3], [1, 10, 100, 2, 0, -1])
        let state = g.value("memory", .float32, [1, 6])
        let y = g.value("y", .float32, [1, 2])
        g.op(Self.rankOne, [x, features, time, .absent, state], [y])
        XCTAssertThrowsError(try Interpreter(model: g.model(inputs: [x], outputs: [y]))) { error in
            XCTAssertTrue("\(error)".contains("SVDF"), "\(error)")
        }
    }
}
