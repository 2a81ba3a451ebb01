import XCTest

@testable import Memory
@testable import TFRewrite

/// `--optimize memory`: the op-order search's candidates and the pass that writes the order.
final class OptimizeMemoryTests: XCTestCase {
    private func fixture(_ name: String) throws -> Model { try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent(name).path) }

    func testPassRunsOneBranchToItsEndFirst() throws {
        let original = ArenaPlanTests.twoBranches()
        var m = original
        let before = try ArenaReport.analyze(m, build: .standard(.bits64))
        var pass = OptimizeMemory(build: .standard(.bits64))
        var context = PassContext()
        XCTAssertTrue(try pass.run(on: &m, context: &context))
        XCTAssertEqual(m.subgraphs[0].ops, [0, 2, 1, 3, 4].map { original.subgraphs[0].ops[$0] })
        let after = try ArenaReport.analyze(m, build: .standard(.bits64))
        XCTAssertLessThan(after.headBytes, before.headBytes)
        XCTAssertLessThan(after.minArenaBytes, before.minArenaBytes)
        XCTAssertTrue(context.notes.contains { $0.hasPrefix("note: optimize-memory: TFLM arena (64-bit): head \(before.headBytes) → \(after.headBytes)") }, "\(context.notes)")
        // A second run finds nothing better and changes nothing.
        let once = m
        XCTAssertFalse(try pass.run(on: &m, context: &context))
        XCTAssertEqual(m, once)
    }

    func testPassLeavesAChainAlone() throws {
        var m = try fixture("ds_cnn_int8.tflite")
        let original = m
        var pass = OptimizeMemory()
        var context = PassContext()
        XCTAssertFalse(try pass.run(on: &m, context: &context))
        XCTAssertEqual(m, original)
    }

    /// An unrolled LSTM whose converter computed every step's input projection up front: the
    /// search defers each to its step, and the written order must never need more.
    func testUnrolledLSTMHeadShrinks() throws {
        let m = try fixture("recurrent/lstm_unrolled_float.tflite")
        let build = TFLMBuild.standard(.bits64)
        let result = try OpOrderSearch.search(m, build: build)
        XCTAssertTrue(result.improved)
        XCTAssertEqual(result.originalHeadBytes, 1760)
        XCTAssertLessThanOrEqual(result.headBytes, 1024)
        XCTAssertLessThanOrEqual(result.minArenaBytes, result.originalMinArenaBytes)
        let reordered = try ArenaReport.analyze(OpOrderSearch.reordered(m, result.order), build: build)
        XCTAssertEqual(reordered.headBytes, result.headBytes)
        XCTAssertEqual(reordered.totalBytes, result.totalBytes)
        XCTAssertEqual(Set(result.order), Set(m.subgraphs[0].ops.indices))
        // Topological: every op after the producers of its inputs.
        let made = Set(m.subgraphs[0].ops.flatMap(\.outputs))
        var produced = Set<ValueID>()
        for i in result.order {
            let op = m.subgraphs[0].ops[i]
            for v in op.inputs where made.contains(v) { XCTAssertTrue(produced.contains(v), "op \(i) reads \(v) before it is made") }
            produced.formUnion(op.outputs)
        }
    }

    func testDemandOrderRunsProducersJustBeforeTheirReader() throws {
        let problem = try ScheduleProblem(ArenaPlanTests.twoBranches())
        XCTAssertEqual(problem.demandOrder(reversedInputs: false), [0, 2, 1, 3, 4])
        XCTAssertEqual(problem.demandOrder(reversedInputs: true), [1, 3, 0, 2, 4])
    }

    func testPassOptionsAreChecked() {
        XCTAssertThrowsError(try OptimizeMemory(options: PassOptions(["pointer_bits": .int(16)], location: "r.yaml:3"))) { error in
            XCTAssertTrue("\(error)".contains("pointer_bits"), "\(error)")
        }
        XCTAssertEqual(try OptimizeMemory(options: PassOptions(["pointer_bits": .int(64)])).build, .standard(.bits64))
        XCTAssertNotNil(PassRegistry.entry(OptimizeMemory.name))
    }
}
