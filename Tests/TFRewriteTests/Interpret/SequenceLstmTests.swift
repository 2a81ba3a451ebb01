import Foundation
import XCTest

@testable import TFRewrite

/// UNIDIRECTIONAL_SEQUENCE_LSTM on values worked out by hand, and the int16 sigmoid/tanh its
/// int8 form uses. Bit-exactness with TFLM (int8 and float, batch- and time-major, cell clip,
/// several runs sharing the state) is in Tests/Conformance/test_interpreter.py.
final class SequenceLstmTests: XCTestCase {
    typealias G = InterpreterTestSupport.GraphBuilder

    /// UnidirectionalSequenceLSTMOptions (schema.fbs): field 0 fused_activation_function = TANH.
    static let kind = OpKind.builtin(.unidirectionalSequenceLSTM, options: OpaqueOptions(typeTag: 0, vtable: [4], inline: [4, 0, 0, 0], alignmentPhase: 0))

    /// One unit, one input, zero weights: every gate is the sigmoid (tanh for the cell gate) of
    /// its bias, so the cell follows c ← σ(bf)·c + σ(bi)·tanh(bg) and h = σ(bo)·tanh(c).
    func testGatesFollowTheirBiasesThroughTime() throws {
        var g = G()
        let x = g.value("x", .float32, [1, 3, 1])
        let zero1x1 = (0..<8).map { g.floats("w\($0)", [1, 1], [0]) }
        let (bf, bi, bc, bo): (Float, Float, Float, Float) = (2, -1, 1, 0.5)
        let biases = [bi, bf, bc, bo].enumerated().map { g.floats("b\($0.offset)", [1], [$0.element]) }
        func variable(_ name: String) -> ValueID {
            var v = Value(name: name, type: ElementType(.float32), shape: [1, 1])
            v.isVariable = true
            return g.graph.addValue(v)
        }
        let hidden = variable("h"), cell = variable("c")
        let y = g.value("y", .float32, [1, 3, 1])
        let inputs: [ValueID] = [x] + zero1x1 + [.absent, .absent, .absent] + biases + [.absent, .absent, hidden, cell]
            + [.absent, .absent, .absent, .absent]
        g.op(Self.kind, inputs, [y])
        let interpreter = try Interpreter(model: g.model(inputs: [x], outputs: [y]))
        let out = try interpreter.run([RuntimeTensor(shape: [1, 3, 1], floats: [5, -5, 9])!])[0].floats!

        func sigmoid(_ v: Float) -> Float { 1 / (1 + expf(-v)) }
        var c: Float = 0
        var expected: [Float] = []
        for _ in 0..<3 {
            c = sigmoid(bf) * c + sigmoid(bi) * tanhf(bc)
            expected.append(sigmoid(bo) * tanhf(c))
        }
        for (a, b) in zip(out, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // The next run starts from the state the first one left.
        let again = try interpreter.run([RuntimeTensor(shape: [1, 3, 1], floats: [0, 0, 0])!])[0].floats!
        c = sigmoid(bf) * c + sigmoid(bi) * tanhf(bc)
        XCTAssertEqual(again[0], sigmoid(bo) * tanhf(c), accuracy: 1e-6)
    }

    /// Q3.12 in, Q0.15 out: 0 maps to one half (sigmoid) and zero (tanh); the ends saturate.
    func testInt16NonlinearitiesAtTheirLandmarks() {
        XCTAssertEqual(Int16Nonlinearity.logistic(0), 16384)
        XCTAssertEqual(Int16Nonlinearity.tanh(0), 0)
        // The largest Q3.12 input is just under 8: sigmoid(8) = 0.99966.
        XCTAssertEqual(Double(Int16Nonlinearity.logistic(.max)) / 32768, 0.99966, accuracy: 1e-4)
        XCTAssertEqual(Int16Nonlinearity.tanh(.max), 32767)
        XCTAssertEqual(Int16Nonlinearity.tanh(.min), -32767)
        // sigmoid(x) + sigmoid(−x) = 1 and tanh is odd, to within one step.
        for x in stride(from: Int16(-30000), through: 30000, by: 997) {
            XCTAssertEqual(Int(Int16Nonlinearity.logistic(x)) + Int(Int16Nonlinearity.logistic(-x)), 32768, accuracy: 1)
            XCTAssertEqual(Int(Int16Nonlinearity.tanh(x)) + Int(Int16Nonlinearity.tanh(-x)), 0, accuracy: 1)
        }
        // 1.0 in Q3.12 is 4096: sigmoid(1) = 0.7311 and tanh(1) = 0.7616 in Q0.15.
        XCTAssertEqual(Double(Int16Nonlinearity.logistic(4096)) / 32768, 0.7311, accuracy: 2e-4)
        XCTAssertEqual(Double(Int16Nonlinearity.tanh(4096)) / 32768, 0.7616, accuracy: 2e-4)
    }
}
