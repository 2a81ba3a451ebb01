import Foundation
import TestSupport
import XCTest

@testable import TFRewrite

/// `fuse-lstm-loop`: a Keras 3 LSTM's WHILE loop becomes one UNIDIRECTIONAL_SEQUENCE_LSTM with
/// the same outputs; loops that are not exactly an LSTM cell stay.
final class FuseLstmLoopTests: XCTestCase {
    /// Deterministic small weights, as IR text.
    static func values(_ n: Int, seed: Double) -> String {
        (0..<n).map { "\(Float(sin(Double($0) * 0.77 + seed) * 0.6))" }.joined(separator: ", ")
    }

    /// TF 2.21's export of `keras.layers.LSTM(2, return_sequences:)` on [1, 3, 2] input (the
    /// fixture's loop, shrunk): T = 3 steps, F = 2 features, U = 2 units, time-major input.
    static func kerasLoopText(returnSequences: Bool) -> String {
        let seq = returnSequences ? "f32[3,1,2]" : "f32[1,1,2]"
        let seqInit = returnSequences ? "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]" : "[0.0, 0.0]"
        // The write of h' into the sequence: the whole [1,1,2] (last step), or slot j of [3,1,2].
        let write = returnSequences ? """
              const %34 "one_vec": i32[1] = [1]
              const %35 "minus_ones2": i32[2] = [-1, -1]
              const %36 "zeros2": i32[2] = [0, 0]
              const %37 "minus_ones3": i32[3] = [-1, -1, -1]
              const %38 "zeros3": i32[3] = [0, 0, 0]
              #18 RESHAPE v1 (%32, %11) -> %33 "step": f32[1,1,2]
              #19 RESHAPE v1 (%1, %34) -> %39 "j_vec": i32[1]
              #20 CONCATENATION v1 {axis=0} (%39, %35) -> %40 "before_size": i32[3]
              #21 SLICE v1 (%2, %38, %40) -> %41 "before": f32[?,?,?]
              #22 RESHAPE v1 (%13, %34) -> %42 "next_j_vec": i32[1]
              #23 CONCATENATION v1 {axis=0} (%42, %36) -> %43 "after_begin": i32[3]
              #24 SLICE v1 (%2, %43, %37) -> %44 "after": f32[?,1,2]
              #25 CONCATENATION v1 {axis=0} (%41, %33, %44) -> %45 "seq_new": f32[3,1,2]
              output %12
              output %13
              output %45
            """ : """
              #18 RESHAPE v1 (%32, %11) -> %33 "seq_new": f32[1,1,2]
              output %12
              output %13
              output %33
            """
        let last = returnSequences ? """
              const %10 "last_begin": i32[3] = [2, 0, 0]
              const %11 "last_size": i32[3] = [1, 1, 2]
              const %13 "flat": i32[2] = [1, 2]
              #1 SLICE v1 (%6, %10, %11) -> %12 "last": f32[1,1,2]
              #2 RESHAPE v1 (%12, %13) -> %14 "y": f32[1,2]
              output %14
            """ : """
              const %10 "flat": i32[2] = [1, 2]
              #1 RESHAPE v1 (%6, %10) -> %11 "y": f32[1,2]
              output %11
            """
        // The condition and the body take the same loop variables.
        let loopVariables = """
              input %0 "i": i32[]
              input %1 "j": i32[]
              input %2 "seq": \(seq)
              input %3 "h": f32[1,2]
              input %4 "c": f32[1,2]
              input %5 "x": f32[3,1,2]
            """
        return """
            subgraph 0 "main"
              input %0 "x": f32[3,1,2]
              const %1 "zero": i32[] = [0]
              const %2 "state0": f32[1,2] = [0.0, 0.0]
              const %3 "seq0": \(seq) = \(seqInit)
              #0 WHILE v1 {options_type=93, vtable=2, raw=040008000100000002000000} (%1, %1, %3, %2, %2, %0) -> %4 "i": i32[], %5 "j": i32[], %6 "seq": \(seq), %7 "h": f32[1,2], %8 "c": f32[1,2], %9 "x_out": f32[3,1,2]
            \(last)
            subgraph 1 "cond"
            \(loopVariables)
              const %6 "n": i32[] = [3]
              #0 LESS v1 (%0, %6) -> %7 "a": i1[]
              #1 LESS v1 (%1, %6) -> %8 "b": i1[]
              #2 LOGICAL_AND v1 (%7, %8) -> %9 "go": i1[]
              output %9
            subgraph 2 "body"
            \(loopVariables)
              const %6 "one": i32[] = [1]
              const %7 "kernel": f32[8,2] = [\(values(16, seed: 0))]
              const %8 "recurrent_kernel": f32[8,2] = [\(values(16, seed: 1))]
              const %9 "bias": f32[8] = [\(values(8, seed: 2))]
              const %10 "squeeze": i32[1] = [8]
              const %11 "step_shape": i32[3] = [1, 1, 2]
              #0 ADD v1 (%0, %6) -> %12 "next_i": i32[]
              #1 ADD v1 (%1, %6) -> %13 "next_j": i32[]
              #2 FULLY_CONNECTED v1 (%3, %8, %none) -> %14 "hr": f32[1,8]
              #3 RESHAPE v1 (%14, %10) -> %15 "hr_flat": f32[8]
              #4 GATHER v1 {axis=0, batch_dims=0} (%5, %1) -> %16 "x_t": f32[1,2]
              #5 FULLY_CONNECTED v1 (%16, %7, %none) -> %17 "xw": f32[1,8]
              #6 ADD v1 (%17, %15) -> %18 "z0": f32[1,8]
              #7 ADD v1 (%18, %9) -> %19 "z": f32[1,8]
              #8 SPLIT v1 {options_type=35, vtable=1, raw=040004000000} (%6, %19) -> %20 "zi": f32[1,2], %21 "zf": f32[1,2], %22 "zg": f32[1,2], %23 "zo": f32[1,2]
              #9 LOGISTIC v1 (%20) -> %24 "input_gate": f32[1,2]
              #10 LOGISTIC v1 (%21) -> %25 "forget_gate": f32[1,2]
              #11 MUL v1 (%25, %4) -> %26 "kept": f32[1,2]
              #12 LOGISTIC v1 (%23) -> %27 "output_gate": f32[1,2]
              #13 TANH v1 (%22) -> %28 "candidate": f32[1,2]
              #14 MUL v1 (%24, %28) -> %29 "added": f32[1,2]
              #15 ADD v1 (%26, %29) -> %30 "c_new": f32[1,2]
              #16 TANH v1 (%30) -> %31 "c_tanh": f32[1,2]
              #17 MUL v1 (%27, %31) -> %32 "h_new": f32[1,2]
            \(write)
              output %32
              output %30
              output %5

            """
    }

    static func loop(returnSequences: Bool) throws -> Model {
        try IRParser.parse(kerasLoopText(returnSequences: returnSequences))
    }

    func testTheLoopBecomesOneFusedOpWithTheSameOutputs() throws {
        let x = RuntimeTensor(shape: [3, 1, 2], floats: (0..<6).map { Float($0) / 3 - 1 })!
        for returnSequences in [false, true] {
            let given = try Self.loop(returnSequences: returnSequences)
            var model = given
            var context = PassContext()
            XCTAssertTrue(try runVerified([FuseLstmLoop(), Cleanup()], on: &model, context: &context))
            if !returnSequences {
                GoldenIR.check("fuse-lstm-loop.last-step", given: given, passes: "fuse-lstm-loop, cleanup", result: model)
            }
            XCTAssertEqual(context.statistics["fuse-lstm-loop.loops"], 1)
            XCTAssertEqual(model.subgraphs.count, 1)
            // The last step: the pass's STRIDED_SLICE, or the model's own SLICE of the sequence.
            XCTAssertEqual(liveOpNames(model), ["UNIDIRECTIONAL_SEQUENCE_LSTM", returnSequences ? "SLICE" : "STRIDED_SLICE", "RESHAPE"])
            XCTAssertTrue(context.notes.contains { $0.contains("Reset()") }, "\(context.notes)")

            let before = try Interpreter(model: given).run([x])[0].floats!
            let fused = try Interpreter(model: try exportAndImport(model))
            for _ in 0..<2 {
                fused.resetVariables()
                let after = try fused.run([x])[0].floats!
                XCTAssertEqual(before.count, after.count)
                for (a, b) in zip(before, after) { XCTAssertEqual(a, b, accuracy: 1e-6, "return_sequences \(returnSequences)") }
            }
        }
    }

    /// Keras's gate order is i, f, c, o; a body whose split parts play other roles still fuses,
    /// its weight blocks taken by role, with the same outputs.
    func testGateRolesComeFromTheCellNotTheSplitOrder() throws {
        var text = Self.kerasLoopText(returnSequences: false)
        // Swap the roles of split parts 0 (input gate) and 3 (output gate).
        text = text.replacingOccurrences(of: "LOGISTIC v1 (%20)", with: "LOGISTIC v1 (%XX)")
            .replacingOccurrences(of: "LOGISTIC v1 (%23)", with: "LOGISTIC v1 (%20)")
            .replacingOccurrences(of: "LOGISTIC v1 (%XX)", with: "LOGISTIC v1 (%23)")
        let given = try IRParser.parse(text)
        var model = given
        XCTAssertTrue(try runVerified([FuseLstmLoop(), Cleanup()], on: &model))
        let x = RuntimeTensor(shape: [3, 1, 2], floats: (0..<6).map { Float($0) / 2 - 1.2 })!
        let before = try Interpreter(model: given).run([x])[0].floats!
        let after = try Interpreter(model: model).run([x])[0].floats!
        for (a, b) in zip(before, after) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    /// Loops that are not exactly an LSTM cell stay, with a reason.
    func testNearMissesStayWithAReason() throws {
        let base = Self.kerasLoopText(returnSequences: false)
        let cases: [(String, String, String)] = [
            // hard_sigmoid-like gate: the forget gate is not a LOGISTIC.
            ("LOGISTIC v1 (%21)", "RELU v1 (%21)", "not used by one LOGISTIC or TANH"),
            // The state does not start at zero.
            ("const %2 \"state0\": f32[1,2] = [0.0, 0.0]", "const %2 \"state0\": f32[1,2] = [0.5, 0.0]", "not a constant zero"),
            // Two steps only, for a three-step sequence.
            ("const %6 \"n\": i32[] = [3]", "const %6 \"n\": i32[] = [2]", "runs 2 times"),
        ]
        for (old, new, reason) in cases {
            XCTAssertTrue(base.contains(old), old)
            var model = try IRParser.parse(base.replacingOccurrences(of: old, with: new))
            var context = PassContext()
            XCTAssertFalse(try runVerified([FuseLstmLoop()], on: &model, context: &context), reason)
            XCTAssertTrue(context.notes.contains { $0.contains(reason) }, "\(reason): \(context.notes)")
            XCTAssertEqual(liveOpNames(model).first, "WHILE")
        }
        // A loop with no four-way SPLIT (UnrollWhileTests' counter loop) is not an LSTM: no note.
        var counter = try UnrollWhileTests.counterLoop()
        var context = PassContext()
        XCTAssertFalse(try runVerified([FuseLstmLoop()], on: &counter, context: &context))
        XCTAssertEqual(context.notes, [])
    }

    /// The fused fixture LSTMs quantized as TFLM's int8 kernel expects (float I/O around it):
    /// int8 hidden state with the output's parameters, an int16 cell state with a power-of-two
    /// scale, int32 gate biases, LiteRT's five intermediates; held-out accuracy within half a
    /// point of Keras.
    func testFusedKerasLstmQuantizesToInt8WithAnInt16CellState() throws {
        let dir = UnrollWhileTests.recurrent
        let samples = InterpreterTestSupport.samples(try Npy.read(path: dir.appendingPathComponent("heldout_inputs.npy").path))
        let labels = try Npy.read(path: dir.appendingPathComponent("heldout_labels.npy").path).tensor()!.int64s!.map { Int($0) }
        let tmp = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        for name in ["lstm", "lstm_stacked"] {
            let out = tmp.appendingPathComponent("\(name)_int8.tflite").path
            let r = try runTool([dir.appendingPathComponent("\(name)_loop_float.tflite").path, "--rules", "micro", "--quantize", "int8",
                                 "--calibration", dir.appendingPathComponent("calib.npy").path, "--float-io", "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertFalse(r.stderr.contains("kept float"), r.stderr)
            let model = try TFLiteImporter.load(path: out)
            let g = model.main
            let lstms = g.ops.filter { $0.builtinOperator == .unidirectionalSequenceLSTM }
            XCTAssertEqual(lstms.count, name == "lstm" ? 1 : 2, name)
            for op in lstms {
                XCTAssertEqual(g[op.inputs[0]].dtype, .int8)
                XCTAssertEqual((1...8).map { g[op.inputs[$0]].dtype }, Array(repeating: .int8, count: 8))
                XCTAssertEqual((12...15).map { g[op.inputs[$0]].dtype }, Array(repeating: .int32, count: 4))
                let hidden = g[op.inputs[18]], cell = g[op.inputs[19]], output = g[op.outputs[0]]
                XCTAssertTrue(hidden.isVariable && cell.isVariable)
                XCTAssertEqual(hidden.dtype, .int8)
                XCTAssertEqual(hidden.quantization, output.quantization)
                XCTAssertEqual(cell.dtype, .int16)
                let scale = try XCTUnwrap(cell.quantization?.scale)
                XCTAssertEqual(scale.significand, 1, "cell state scale \(scale) is not a power of two")
                XCTAssertEqual(op.intermediates.count, 5)
                XCTAssertEqual(g[op.intermediates[4]].quantization, output.quantization)
            }
            let interpreter = try Interpreter(model: model)
            let keras = try Npy.read(path: dir.appendingPathComponent("\(name)_keras.npy").path).tensor()!.floats!
            var quantizedHits = 0, kerasHits = 0
            for (k, sample) in samples.enumerated() {
                interpreter.resetVariables()
                let y = try interpreter.run([RuntimeTensor(shape: [1, 8, 8], floats: sample.floats!)!])[0].floats!
                if y.indices.max(by: { y[$0] < y[$1] }) == labels[k] { quantizedHits += 1 }
                let z = Array(keras[(k * 10)..<(k * 10 + 10)])
                if z.indices.max(by: { z[$0] < z[$1] }) == labels[k] { kerasHits += 1 }
            }
            let quantized = Double(quantizedHits) / Double(samples.count), float = Double(kerasHits) / Double(samples.count)
            XCTAssertLessThanOrEqual(abs(quantized - float), 0.005, "\(name): int8 accuracy \(quantized) vs Keras \(float)")
        }
    }
}
