import Foundation
import FlatBuffers
import TestSupport
import XCTest

@testable import TFRewrite

/// `unroll-while`: Keras 3 loops become loop-free models that still give Keras's outputs, a
/// counter loop unrolls as the golden file shows, and loops it cannot unroll stay, with a reason.
final class UnrollWhileTests: XCTestCase {
    static let recurrent = InterpreterTestSupport.fixtures.appendingPathComponent("recurrent")

    /// WhileOptions (schema.fbs): field 0 cond_subgraph_index, field 1 body_subgraph_index.
    static func whileOptions(condition: Int32, body: Int32) -> OpaqueOptions {
        OpaqueOptions(typeTag: 93, vtable: [4, 8], inline: le([condition, body]), alignmentPhase: 0)
    }

    /// A GRU/LSTM-like counter loop: h = tanh(h + x[i]) for i in 0..<3.
    static let counterLoopText = """
        subgraph 0 "main"
          input %0 "x": f32[3,1,4]
          const %1 "zero": i32[] = [0]
          const %2 "h0": f32[1,4] = [0.0, 0.0, 0.0, 0.0]
          #0 WHILE v1 {options_type=93, raw=} (%1, %2, %0) -> %3 "i_out": i32[], %4 "h": f32[1,4], %5 "x_out": f32[3,1,4]
          #1 RELU v1 (%4) -> %6 "y": f32[1,4]
          output %6
        subgraph 1 "cond"
          input %0 "i": i32[]
          input %1 "h": f32[1,4]
          input %2 "x": f32[3,1,4]
          const %3 "n": i32[] = [3]
          #0 LESS v1 (%0, %3) -> %4 "go": i1[]
          output %4
        subgraph 2 "body"
          input %0 "i": i32[]
          input %1 "h": f32[1,4]
          input %2 "x": f32[3,1,4]
          const %3 "one": i32[] = [1]
          const %4 "bias": f32[4] = [0.5, 0.25, 0.0, -0.5]
          #0 ADD v1 (%0, %3) -> %5 "next_i": i32[]
          #1 GATHER v1 {axis=0, batch_dims=0} (%2, %0) -> %6 "x_t": f32[1,4]
          #2 ADD v1 (%1, %6) -> %7 "sum": f32[1,4]
          #3 ADD v1 (%7, %4) -> %8 "biased": f32[1,4]
          #4 TANH v1 (%8) -> %9 "next_h": f32[1,4]
          output %5
          output %9
          output %2

        """

    static func counterLoop(trips: Int32 = 3) throws -> Model {
        var model = try IRParser.parse(counterLoopText.replacingOccurrences(of: "= [3]", with: "= [\(trips)]"))
        model.subgraphs[0].ops[0].kind = .builtin(.whileLoop, options: whileOptions(condition: 1, body: 2))
        return model
    }

    func testACounterLoopUnrolls() throws {
        let given = try Self.counterLoop()
        var model = given
        var context = PassContext()
        try runVerified([UnrollWhile(), Cleanup()], on: &model, context: &context)
        GoldenIR.check("unroll-while.counter", given: given, passes: "unroll-while, cleanup", result: model)
        XCTAssertEqual(model.subgraphs.count, 1)
        XCTAssertEqual(context.statistics["unroll-while.iterations"], 3)
        // One bias tensor for all three iterations.
        XCTAssertEqual(model.main.values.filter { $0.name == "bias" }.count, 1)

        // Same numbers as the loop on the interpreter.
        let x = RuntimeTensor(shape: [3, 1, 4], floats: (0..<12).map { Float($0) / 6 - 1 })!
        let before = try Interpreter(model: given).run([x])[0].floats!
        let after = try Interpreter(model: model).run([x])[0].floats!
        XCTAssertEqual(before, after)
    }

    /// A loop that never runs: its outputs are its inputs.
    func testAZeroTripLoopVanishes() throws {
        var model = try Self.counterLoop(trips: 0)
        try runVerified([UnrollWhile(), Cleanup()], on: &model)
        XCTAssertEqual(liveOpNames(model), ["RELU"])
        XCTAssertEqual(model.subgraphs.count, 1)
    }

    func testLimitsKeepTheLoopWithAReason() throws {
        var model = try Self.counterLoop(trips: 5)
        var context = PassContext()
        var options = PassOptions()
        options.values["max_trips"] = .int(4)
        XCTAssertFalse(try runVerified([UnrollWhile(options: options)], on: &model, context: &context))
        XCTAssertTrue(context.notes.contains { $0.contains("runs more than 4 times (option max_trips)") }, "\(context.notes)")

        options = PassOptions()
        options.values["max_ops"] = .int(10)
        context = PassContext()
        XCTAssertFalse(try runVerified([UnrollWhile(options: options)], on: &model, context: &context))
        XCTAssertTrue(context.notes.contains { $0.contains("would add 20 ops, more than the 10 left of 10 (option max_ops)") }, "\(context.notes)")
        XCTAssertEqual(liveOpNames(model), ["WHILE", "RELU"])
    }

    /// The condition reads the data, not a counter: the trip count is not static.
    func testADataDependentLoopStays() throws {
        var model = try Self.counterLoop()
        // cond: LESS(h[0]...) — compare the counter with a runtime value instead of a constant.
        model.subgraphs[1].ops[0].inputs = [ValueID(0), ValueID(0)]
        model.subgraphs[1].values[0].shape = []
        let x = model.subgraphs[0].ops[0].inputs
        model.subgraphs[0].ops[0].inputs = [x[0], x[1], x[2]]
        // The counter now starts from a runtime input.
        let start = model.subgraphs[0].addValue(Value(name: "start", type: ElementType(.int32), shape: []))
        model.subgraphs[0].ops[0].inputs[0] = start
        model.subgraphs[0].inputs.append(start)
        var context = PassContext()
        XCTAssertFalse(try runVerified([UnrollWhile()], on: &model, context: &context))
        XCTAssertTrue(context.notes.contains { $0.contains("trip count is not static") }, "\(context.notes)")
    }

    /// The Keras 3 LSTM, GRU and stacked LSTM loops (TF 2.21's default export) through the micro
    /// rules: no WHILE, one subgraph, and Keras's outputs on the held-out digits.
    func testKerasLoopsFuseOrUnrollAndMatchKeras() throws {
        let inputs = try Npy.read(path: Self.recurrent.appendingPathComponent("heldout_inputs.npy").path)
        let samples = InterpreterTestSupport.samples(inputs)
        XCTAssertGreaterThan(samples.count, 300)
        let micro = try RuleSet.load(["micro"])
        for name in ["lstm", "gru", "lstm_stacked"] {
            var model = try TFLiteImporter.load(path: Self.recurrent.appendingPathComponent("\(name)_loop_float.tflite").path)
            var context = micro.context()
            var pipeline = try micro.pipeline()
            try pipeline.run(on: &model, context: &context)
            XCTAssertEqual(Verifier.verify(model).map(\.description), [], name)
            XCTAssertFalse(liveOpNames(model).contains("WHILE"), name)
            XCTAssertEqual(model.subgraphs.count, 1, name)
            // LSTM loops become the fused op (fuse-lstm-loop, FuseLstmLoopTests); the GRU unrolls.
            XCTAssertEqual(context.statistics["unroll-while.iterations"], name == "gru" ? 8 : nil, name)
            XCTAssertEqual(context.statistics["fuse-lstm-loop.loops"], ["lstm": 1, "lstm_stacked": 2][name], name)
            // Exported and imported, as a runtime gets it.
            let interpreter = try Interpreter(model: try exportAndImport(model))
            let keras = try Npy.read(path: Self.recurrent.appendingPathComponent("\(name)_keras.npy").path).tensor()!.floats!
            var worst: Float = 0
            for (k, sample) in samples.enumerated() {
                let x = RuntimeTensor(shape: [1, 8, 8], floats: sample.floats!)!
                // Each digit is an independent window: the fused LSTM's states start at zero.
                interpreter.resetVariables()
                let y = try interpreter.run([x])[0].floats!
                for c in 0..<10 { worst = max(worst, abs(y[c] - keras[k * 10 + c])) }
            }
            XCTAssertLessThan(worst, 1e-5, name)
        }
    }
}

/// `inline-constant-if`: an IF on a constant condition becomes the branch it takes.
final class InlineConstantIfTests: XCTestCase {
    static func ifModel(flag: UInt8) throws -> Model {
        var model = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "flag": i1[] = [\(flag)]
              #0 IF v1 {options_type=94, raw=} (%1, %0) -> %2 "y": f32[1,4]
              output %2
            subgraph 1 "then"
              input %0 "x": f32[1,4]
              #0 RELU v1 (%0) -> %1 "r": f32[1,4]
              output %1
            subgraph 2 "else"
              input %0 "x": f32[1,4]
              #0 TANH v1 (%0) -> %1 "t": f32[1,4]
              output %1

            """)
        // IfOptions (schema.fbs): field 0 then_subgraph_index, field 1 else_subgraph_index.
        model.subgraphs[0].ops[0].kind = .builtin(.ifThenElse, options: OpaqueOptions(typeTag: 94, vtable: [4, 8], inline: le([Int32(1), 2]), alignmentPhase: 0))
        return model
    }

    func testTheTakenBranchReplacesTheIf() throws {
        for (flag, op) in [(UInt8(1), "RELU"), (0, "TANH")] {
            let given = try Self.ifModel(flag: flag)
            var model = given
            try runVerified([InlineConstantIf(), Cleanup()], on: &model)
            XCTAssertEqual(liveOpNames(model), [op])
            XCTAssertEqual(model.subgraphs.count, 1)
            XCTAssertEqual(model.main.values[model.main.outputs[0].index].name, "y")
            let x = RuntimeTensor(shape: [1, 4], floats: [-1, -0.5, 0.5, 2])!
            XCTAssertEqual(try Interpreter(model: given).run([x])[0].floats, try Interpreter(model: model).run([x])[0].floats)
        }
    }

    func testAnIfOnARuntimeConditionStays() throws {
        var model = try Self.ifModel(flag: 1)
        model.subgraphs[0].values[1].buffer = .none
        model.subgraphs[0].inputs.append(ValueID(1))
        XCTAssertFalse(try runVerified([InlineConstantIf()], on: &model))
        XCTAssertEqual(liveOpNames(model), ["IF"])
    }
}
