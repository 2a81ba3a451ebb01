import Foundation
import FlatBuffers
import XCTest

@testable import TFRewrite

/// WHILE (and the ops Keras 3 puts in its loops) on the interpreter: the recurrent fixtures
/// against Keras's own outputs, and loops built to hurt. Bit-exactness with TFLM (and with
/// LiteRT where TFLM runs the loop wrongly) is in Tests/Conformance/test_interpreter.py.
final class ControlFlowTests: XCTestCase {
    static let recurrent = InterpreterTestSupport.fixtures.appendingPathComponent("recurrent")

    /// The Keras 3 LSTM, GRU and stacked LSTM, exported as TF 2.21 does by default (a WHILE
    /// loop over a body subgraph), give Keras's outputs on the held-out digits.
    func testKerasLoopsMatchKeras() throws {
        let inputs = try Npy.read(path: Self.recurrent.appendingPathComponent("heldout_inputs.npy").path)
        let labels = try Npy.read(path: Self.recurrent.appendingPathComponent("heldout_labels.npy").path)
        let samples = InterpreterTestSupport.samples(inputs)
        XCTAssertGreaterThan(samples.count, 300)
        for name in ["lstm", "gru", "lstm_stacked"] {
            let model = try TFLiteImporter.load(path: Self.recurrent.appendingPathComponent("\(name)_loop_float.tflite").path)
            XCTAssertTrue(model.subgraphs.count >= 3, "\(name): expected a WHILE with its subgraphs")
            let interpreter = try Interpreter(model: model)
            let keras = try Npy.read(path: Self.recurrent.appendingPathComponent("\(name)_keras.npy").path).tensor()!.floats!
            var worst: Float = 0
            var correct = 0
            for (k, sample) in samples.enumerated() {
                let x = RuntimeTensor(shape: [1, 8, 8], floats: sample.floats!)!
                let y = try interpreter.run([x])[0].floats!
                for c in 0..<10 { worst = max(worst, abs(y[c] - keras[k * 10 + c])) }
                if y.indices.max(by: { y[$0] < y[$1] }) == Int(labels.tensor()!.int64s![k]) { correct += 1 }
            }
            XCTAssertLessThan(worst, 1e-5, name)
            XCTAssertGreaterThan(Double(correct) / Double(samples.count), 0.9, name)
        }
    }

    /// main: y = WHILE(x) with the condition and body subgraphs given; body: RELU.
    func loopModel(condition: Int32, body: Int32, alwaysTrue: Bool) -> Model {
        var model = Model(description: "loop")
        var main = Graph(name: "main")
        let x = main.addValue(Value(name: "x", type: ElementType(.float32), shape: [1]))
        let y = main.addValue(Value(name: "y", type: ElementType(.float32), shape: [1]))
        // WhileOptions: field 0 cond_subgraph_index, field 1 body_subgraph_index.
        let options = OpaqueOptions(typeTag: 93, vtable: [4, 8], inline: Array(withUnsafeBytes(of: condition.littleEndian, Array.init) + withUnsafeBytes(of: body.littleEndian, Array.init)), alignmentPhase: 0)
        main.addOp(Op(kind: .builtin(.whileLoop, options: options), inputs: [x], outputs: [y]))
        main.inputs = [x]
        main.outputs = [y]

        var cond = Graph(name: "cond")
        let cx = cond.addValue(Value(name: "x", type: ElementType(.float32), shape: [1]))
        let zero = cond.addValue(Value(name: "limit", type: ElementType(.float32), shape: [1], buffer: BufferID(1)))
        let go = cond.addValue(Value(name: "go", type: ElementType(.bool), shape: [1]))
        cond.addOp(Op(kind: .builtin(alwaysTrue ? .greaterEqual : .less, options: nil), inputs: [cx, zero], outputs: [go]))
        cond.inputs = [cx]
        cond.outputs = [go]

        var loop = Graph(name: "body")
        let bx = loop.addValue(Value(name: "x", type: ElementType(.float32), shape: [1]))
        let by = loop.addValue(Value(name: "y", type: ElementType(.float32), shape: [1]))
        loop.addOp(Op(kind: .relu, inputs: [bx], outputs: [by]))
        loop.inputs = [bx]
        loop.outputs = [by]
        model.subgraphs = [main, cond, loop]
        model.buffers = [.empty, Buffer(data: ByteSlice(withUnsafeBytes(of: Float(0).bitPattern.littleEndian, Array.init)))]
        return model
    }

    /// x < 0 loops once (RELU makes it 0, which ends the loop); x ≥ 0 never enters the body.
    func testALoopRunsItsBodyUntilTheConditionFails() throws {
        let interpreter = try Interpreter(model: loopModel(condition: 1, body: 2, alwaysTrue: false))
        XCTAssertEqual(try interpreter.run([RuntimeTensor(shape: [1], floats: [-3])!])[0].floats, [0])
        XCTAssertEqual(try interpreter.run([RuntimeTensor(shape: [1], floats: [2.5])!])[0].floats, [2.5])
    }

    /// RELU keeps x ≥ 0 true for ever: the loop stops with an error, not a hang.
    func testARunawayLoopIsAnError() throws {
        let interpreter = try Interpreter(model: loopModel(condition: 1, body: 2, alwaysTrue: true))
        // The error itself shows the loop ends; no wall-clock bound (it flakes on a loaded machine).
        XCTAssertThrowsError(try interpreter.run([RuntimeTensor(shape: [1], floats: [1])!])) { error in
            XCTAssertTrue("\(error)".contains("did not end after \(WhileKernel.maxIterations) iterations"), "\(error)")
        }
    }

    /// A body that is the loop's own subgraph would recurse for ever; a missing one is named.
    func testCyclesAndMissingSubgraphsAreRefused() throws {
        XCTAssertThrowsError(try Interpreter(model: loopModel(condition: 1, body: 0, alwaysTrue: false))) { error in
            XCTAssertTrue("\(error)".contains("subgraph 0 calls itself"), "\(error)")
        }
        XCTAssertThrowsError(try Interpreter(model: loopModel(condition: 7, body: 2, alwaysTrue: false))) { error in
            XCTAssertTrue("\(error)".contains("subgraph 7 does not exist"), "\(error)")
        }
    }
}
