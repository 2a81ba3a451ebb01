import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Corpus models (visible skip when ../shared/models is absent) and corrupted models: the
/// interpreter either runs or throws a typed error, never traps.
final class InterpreterRobustnessTests: XCTestCase {
    typealias S = InterpreterTestSupport

    private func corpusModel(_ name: String) throws -> Model {
        let path = S.corpus.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("model corpus absent: \(path) not found")
        }
        return try TFLiteImporter.load(path: path)
    }

    /// hello_world_float regresses sin(x) on [0, 2π]: the interpreter's output follows it.
    func testHelloWorldFloatApproximatesSine() throws {
        let interp = try Interpreter(model: try corpusModel("hello_world_float.tflite"))
        for x in stride(from: Float(0.2), through: 6.0, by: 0.7) {
            let y = try interp.run([RuntimeTensor(shape: [1, 1], floats: [x])!])[0].floats![0]
            XCTAssertEqual(y, sin(x), accuracy: 0.2, "sin(\(x))")
        }
    }

    func testHelloWorldInt8AndMicroSpeechRun() throws {
        let hello = try Interpreter(model: try corpusModel("hello_world_int8.tflite"))
        XCTAssertEqual(try hello.run([RuntimeTensor(shape: [1, 1], int8s: [10])!])[0].shape, [1, 1])
        let speech = try Interpreter(model: try corpusModel("micro_speech_quantized.tflite"))
        let out = try speech.run([RuntimeTensor.zeros(.int8, shape: [1, 1960])!])[0]
        XCTAssertEqual(out.shape, [1, 4])
        // A probability distribution in 1/256 steps offset by −128: sums to about 256.
        XCTAssertEqual(out.int8s!.map { Int($0) + 128 }.reduce(0, +), 256, accuracy: 4)
    }

    /// SVDF with int16 state, SOFTMAX int8 → int16 and QUANTIZE int16 → int32 (the streaming
    /// keyword model from TFLM's benchmarks), and the int8 LSTM classifier: both run (compared
    /// value by value with TFLM in the conformance tests).
    func testTheStatefulCorpusModelsRun() throws {
        let interpreter = try Interpreter(model: try corpusModel("keyword_scrambled.tflite"))
        XCTAssertTrue(interpreter.hasVariables)
        let x = RuntimeTensor(shape: [1, 96], int16s: (0..<96).map { Int16($0 * 300 - 14000) })!
        XCTAssertEqual(try interpreter.run([x])[0].shape, [1, 2])
        let lstm = try Interpreter(model: try corpusModel("trained_lstm_int8.tflite"))
        XCTAssertTrue(lstm.hasVariables)
        XCTAssertEqual(try lstm.run([RuntimeTensor.zeros(.int8, shape: [1, 28, 28])!])[0].shape, [1, 10])
    }

    func testUnsupportedCorpusModelsNameTheirOps() throws {
        let cases: [(String, [String])] = [
            ("person_detect_vela.tflite", ["ethos-u"]),
        ]
        for (file, names) in cases {
            let model = try corpusModel(file)
            XCTAssertThrowsError(try Interpreter(model: model), file) { error in
                let listed = Set((error as? InterpreterError)?.unsupportedOps.map(\.name) ?? [])
                for n in names { XCTAssertTrue(listed.contains(n), "\(file): \(n) not in \(listed)") }
            }
        }
    }

    /// Random byte flips in a fixture: import may fail; if it succeeds the interpreter must
    /// load (or throw) and run zeros (or throw) without trapping.
    func testCorruptedModelsNeverTrap() throws {
        let bytes = try [UInt8](Data(contentsOf: S.fixtures.appendingPathComponent("qdq_float_io.tflite")))
        let ran = InterpreterTestSupport.runCorruptedCopies(of: bytes, seed: 42, count: 400, flips: 4)
        XCTAssertGreaterThan(ran, 0, "some mutations should still load and run")
    }
}
