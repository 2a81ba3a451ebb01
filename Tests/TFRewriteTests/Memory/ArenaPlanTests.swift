import FlatBuffers
import XCTest

@testable import Memory
@testable import Ops
@testable import TFRewrite

/// TFLM's greedy planner, the struct layouts and the allocation replay.
final class ArenaPlanTests: XCTestCase {
    private func offsets(_ buffers: [(Int, Int, Int)]) -> ([Int], Int) {
        let plan = GreedyMemoryPlanner(buffers.map { GreedyMemoryPlanner.Buffer(size: $0.0, firstUsed: $0.1, lastUsed: $0.2) })
        return (plan.offsets, plan.maximumSize)
    }

    /// TFLM's greedy_memory_planner_test.cc TestGreedyMedium.
    func testGreedyPlannerMatchesTFLMsOwnExample() {
        let (o, size) = offsets([(10, 0, 1), (20, 1, 2), (30, 2, 3), (40, 3, 4), (50, 0, 1)])
        XCTAssertEqual(o, [50, 70, 40, 0, 0])
        XCTAssertEqual(size, 90)
    }

    /// Equal sizes: TFLM fills its sort array from the last online buffer backwards and its
    /// bubble sort is stable, so the later buffer gets the lower offset.
    func testEqualSizesPlaceTheLaterBufferFirst() {
        XCTAssertEqual(offsets([(16, 0, 1), (16, 0, 1), (16, 1, 2)]).0, [32, 16, 0])
    }

    func testBuffersAliveAtDifferentTimesShareMemory() {
        let (o, size) = offsets([(64, 0, 1), (32, 2, 3), (48, 1, 2)])
        XCTAssertEqual(o, [0, 0, 64])
        XCTAssertEqual(size, 112)
    }

    func testOfflineOffsetsAreKept() {
        let plan = GreedyMemoryPlanner([
            .init(size: 32, firstUsed: 0, lastUsed: 1, offlineOffset: 100),
            .init(size: 16, firstUsed: 0, lastUsed: 1),
        ])
        XCTAssertEqual(plan.offsets, [100, 0])
        XCTAssertEqual(plan.maximumSize, 132)
    }

    /// The sizes TFLM's Python package reports (64-bit) and the 32-bit layouts of the same fields.
    func testStructLayouts() {
        XCTAssertEqual(TFLMStructs.tensor.size(.bits64), 64)
        XCTAssertEqual(TFLMStructs.tensor.size(.bits32), 40)
        XCTAssertEqual(TFLMStructs.evalTensor.size(.bits64), 24)
        XCTAssertEqual(TFLMStructs.evalTensor.size(.bits32), 12)
        XCTAssertEqual(TFLMStructs.nodeAndRegistration.size(.bits64), 64)
        XCTAssertEqual(TFLMStructs.nodeAndRegistration.size(.bits32), 32)
        XCTAssertEqual(TFLMStructs.arenaAllocator(.standard(.bits64)).size(.bits64), 104)
        XCTAssertEqual(TFLMStructs.arenaAllocator(.standard(.bits32)).size(.bits32), 36)
        XCTAssertEqual(TFLMStructs.greedyPlanner.size(.bits64), 72)
        XCTAssertEqual(TFLMStructs.microAllocator(.standard(.bits64)).size(.bits64), 272)
        XCTAssertEqual(TFLMStructs.microAllocator(.standard(.bits32)).size(.bits32), 36)
    }

    private func fixture(_ name: String) throws -> Model { try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent(name).path) }

    /// TFLM 0.dev20261023182759's Python package on this fixture: print_allocations and the
    /// smallest arena_size that loads and invokes (Tests/Conformance/test_memory.py checks all).
    func testMicroSpeechInt8MatchesTFLMsPythonPackage() throws {
        let r = try ArenaReport.analyze(try fixture("micro_speech_int8.tflite"), build: .standard(.bits64))
        XCTAssertEqual([r.headBytes, r.tailBytes, r.totalBytes, r.minArenaBytes], [8000, 1808, 9808, 9800])
        XCTAssertEqual(r.tail.values.reduce(0, +), r.tailBytes)
        let peak = try XCTUnwrap(r.peak)
        XCTAssertEqual(peak.liveBytes, r.steps.map(\.liveBytes).max())
    }

    func testThirtyTwoBitArenaIsSmallerThanSixtyFourBit() throws {
        let m = try fixture("ds_cnn_int8.tflite")
        let r32 = try ArenaReport.analyze(m, build: .standard(.bits32))
        let r64 = try ArenaReport.analyze(m, build: .standard(.bits64))
        XCTAssertEqual(r32.headBytes, r64.headBytes)
        XCTAssertLessThan(r32.tailBytes, r64.tailBytes)
        XCTAssertEqual(try minimumTensorArenaSize(of: m, build: .standard(.bits32)), r32.minArenaBytes)
    }

    func testAnOpWithoutAFootprintIsNamed() throws {
        var m = try fixture("micro_speech_int8.tflite")
        m.subgraphs[0].ops[4].kind = .custom(code: "MyOp")
        XCTAssertThrowsError(try ArenaReport.analyze(m)) { error in
            XCTAssertTrue(String(describing: error).contains("op #4"), "\(error)")
        }
    }

    /// A hostile shape is refused with a message, never an arithmetic trap.
    func testHugeTensorsAreRefused() throws {
        var m = try fixture("micro_speech_int8.tflite")
        m.subgraphs[0].values[8].shape = [Int32.max, Int32.max]
        XCTAssertThrowsError(try ArenaReport.analyze(m, build: .standard(.bits64))) { error in
            XCTAssertTrue(String(describing: error).contains("larger than any arena"), "\(error)")
        }
    }

    /// Two branches that each widen to 1024 floats and narrow back: TFLM's order as written runs
    /// both wide layers before either narrow one; running one branch to its end first needs less.
    static func twoBranches() -> Model {
        var m = Model(description: "two branches")
        m.subgraphs = [Graph(name: "main")]
        func value(_ name: String, _ width: Int32) -> Value { Value(name: name, type: ElementType(.float32), shape: [1, width]) }
        let x = m.subgraphs[0].addValue(value("x", 16))
        m.subgraphs[0].inputs = [x]
        func fc(_ input: ValueID, _ name: String, _ from: Int32, _ to: Int32) -> (Op, ValueID) {
            // Each layer's weights differ (a tiny first element), so no rewrite merges them.
            var weights = [UInt8](repeating: 0, count: Int(to * from) * 4)
            weights[0] = UInt8(truncatingIfNeeded: name.unicodeScalars.reduce(0) { $0 &* 31 &+ Int($1.value) })
            let w = m.addConstant(Value(name: name + "/w", type: ElementType(.float32), shape: [to, from]), data: ByteSlice(weights))
            let y = m.subgraphs[0].addValue(value(name, to))
            return (Op(kind: .fullyConnected(FullyConnectedAttributes(activation: .none)), inputs: [input, w, .absent], outputs: [y]), y)
        }
        let (a1, wideA) = fc(x, "a1", 16, 1024)
        let (b1, wideB) = fc(x, "b1", 16, 1024)
        let (a2, narrowA) = fc(wideA, "a2", 1024, 16)
        let (b2, narrowB) = fc(wideB, "b2", 1024, 16)
        let y = m.subgraphs[0].addValue(value("y", 16))
        for op in [a1, b1, a2, b2, Op(kind: .add(ArithmeticAttributes()), inputs: [narrowA, narrowB], outputs: [y])] { m.subgraphs[0].addOp(op) }
        m.subgraphs[0].outputs = [y]
        return m
    }

    func testOrderSearchRunsOneBranchToItsEndFirst() throws {
        let m = Self.twoBranches()
        let build = TFLMBuild.standard(.bits64)
        let original = try ArenaReport.analyze(m, build: build)
        XCTAssertEqual(original.headBytes, 2 * 4096 + 64)
        for exact in [true, false] {
            let problem = try ScheduleProblem(m)
            let order = exact ? problem.exactOrder() : problem.greedyOrder()
            XCTAssertEqual(order, [0, 2, 1, 3, 4], exact ? "exact" : "greedy")
        }
        let result = try OpOrderSearch.search(m, build: build)
        XCTAssertTrue(result.improved)
        XCTAssertEqual(result.order, [0, 2, 1, 3, 4])
        let reordered = try ArenaReport.analyze(OpOrderSearch.reordered(m, result.order), build: build)
        XCTAssertEqual(reordered.minArenaBytes, result.minArenaBytes)
        XCTAssertLessThan(reordered.headBytes, original.headBytes)
    }

    func testOrderSearchKeepsAChain() throws {
        let m = try fixture("ds_cnn_int8.tflite")
        let result = try OpOrderSearch.search(m)
        XCTAssertFalse(result.improved)
        XCTAssertEqual(result.order, Array(0..<18))
    }
}
