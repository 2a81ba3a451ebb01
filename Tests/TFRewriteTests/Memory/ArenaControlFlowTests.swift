import XCTest

@testable import Memory
@testable import TFRewrite

/// Models whose WHILE/IF ops run other subgraphs: every subgraph's tensors in one plan, each
/// called subgraph planned inside the op that runs it (micro_allocation_info.cc).
final class ArenaControlFlowTests: XCTestCase {
    private func fixture(_ name: String) throws -> Model { try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent(name).path) }

    /// The figures TFLM's Python package reports for the Keras LSTM's WHILE export
    /// (Tests/Conformance/test_memory.py measures them).
    func testWhileLoopMatchesTFLM() throws {
        let r = try ArenaReport.analyze(fixture("recurrent/lstm_loop_float.tflite"), build: .standard(.bits64))
        XCTAssertEqual([r.headBytes, r.tailBytes, r.totalBytes, r.minArenaBytes], [1856, 5360, 7216, 9416])
        // The WHILE step counts the loop's own tensors too.
        let loop = try XCTUnwrap(r.steps.first { $0.op == "WHILE" })
        XCTAssertTrue(loop.liveTensors.contains { $0.hasPrefix("lstm_1/lstm_1/while_body/") }, "\(loop.liveTensors)")
    }

    func testASubgraphThatRunsItselfIsRefused() throws {
        var m = try fixture("recurrent/lstm_loop_float.tflite")
        let loop = try XCTUnwrap(m.subgraphs[0].ops.first { $0.builtinOperator == .whileLoop })
        // The body (subgraph 2) gets a WHILE whose body is subgraph 2 again.
        m.subgraphs[2].ops.append(loop)
        XCTAssertThrowsError(try ArenaReport.analyze(m)) { error in
            XCTAssertTrue("\(error)".contains("runs itself"), "\(error)")
        }
    }

    func testTheOrderOfAControlFlowModelIsKept() throws {
        var m = try fixture("recurrent/gru_loop_float.tflite")
        let original = m
        var pass = OptimizeMemory(build: .standard(.bits64))
        var context = PassContext()
        // The loop body's STRIDED_SLICEs become one SPLIT (the lossless rewrites reach every
        // subgraph; TFLM's outputs are identical, Tests/Conformance/test_optimize_memory.py),
        // but the main subgraph keeps its ops in their order.
        XCTAssertTrue(try pass.run(on: &m, context: &context))
        XCTAssertEqual(liveOpNames(m), liveOpNames(original))
        XCTAssertFalse(context.notes.contains { $0.contains("head") }, "\(context.notes)")
        XCTAssertLessThan(try ArenaReport.analyze(m, build: .standard(.bits64)).minArenaBytes,
                          try ArenaReport.analyze(original, build: .standard(.bits64)).minArenaBytes)
        XCTAssertEqual(Verifier.verify(m).map(\.description), [])
    }
}
