import FlatBuffers
import XCTest

@testable import Memory
@testable import Passes
@testable import TFRewrite

/// The lossless rewrites `--optimize memory` tries (merge-identical-constants,
/// reshape-into-broadcast) and the OfflineMemoryAllocation plans it reads and writes.
final class ArenaShrinkingRewritesTests: XCTestCase {
    private func fixture(_ name: String) throws -> Model { try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent(name).path) }

    /// Two steps of an unrolled cell, each adding its own copy of one int8 bias, and one copy
    /// that differs only in its zero point (kept).
    private func repeatedBias() -> Model {
        var b = PassGraphBuilder()
        let x = b.input("x", int8Type(0.05, -3), [1, 4])
        let bias = ConstantTensor(.int8, shape: [4], values: [Int8(1), 2, 3, 4])
        let b0 = b.constant("step0/bias", bias)
        let b1 = b.constant("step1/bias", bias)
        let other = b.model.addConstant(Value(name: "step2/bias", type: int8Type(0.05, -2), shape: [4]), data: ByteSlice([1, 2, 3, 4]))
        let y0 = b.value("step0/add", int8Type(0.05, -3), [1, 4])
        let y1 = b.value("step1/add", int8Type(0.05, -3), [1, 4])
        let y2 = b.value("step2/add", int8Type(0.05, -3), [1, 4])
        b.op(.add(ArithmeticAttributes()), [x, b0], [y0])
        b.op(.add(ArithmeticAttributes()), [y0, b1], [y1])
        b.op(.add(ArithmeticAttributes()), [y1, other], [y2])
        b.output(y2)
        return b.model
    }

    func testMergeIdenticalConstantsGolden() throws {
        let given = repeatedBias()
        var m = given
        var context = PassContext()
        XCTAssertTrue(try runVerified([MergeIdenticalConstants()], on: &m, context: &context))
        GoldenIR.check("merge-identical-constants", given: given, passes: "merge-identical-constants", result: m)
        XCTAssertEqual(m.subgraphs[0].values.count, given.subgraphs[0].values.count - 1)
        XCTAssertEqual(context.statistics["merge-identical-constants.tensors-merged"], 1)
        // The arena needs less: one TfLiteEvalTensor and one AllocationInfo less.
        let before = try ArenaReport.analyze(given, build: .standard(.bits64)), after = try ArenaReport.analyze(m, build: .standard(.bits64))
        XCTAssertEqual(before.tail[.tensorStructs]! - after.tail[.tensorStructs]!, 24)
        XCTAssertLessThan(after.minArenaBytes, before.minArenaBytes)
        XCTAssertFalse(try runVerified([MergeIdenticalConstants()], on: &m))
    }

    /// A recurrent projection squeezed from [1,8] to [8] before it is added to a [1,8] value.
    private func squeezedAddend(readerOutput: [Int32] = [1, 8]) -> Model {
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 8])
        let h = b.input("h", float32Type, [1, 8])
        let shape = b.ints("shape", [8])
        let squeezed = b.value("squeezed", float32Type, [8])
        let sum = b.value("sum", float32Type, readerOutput)
        b.op(.reshape(newShape: nil), [h, shape], [squeezed])
        b.op(.add(ArithmeticAttributes()), [x, squeezed], [sum])
        b.output(sum)
        return b.model
    }

    func testReshapeIntoBroadcastGolden() throws {
        let given = squeezedAddend()
        var m = given
        XCTAssertTrue(try runVerified([ReshapeIntoBroadcast(), Cleanup()], on: &m))
        GoldenIR.check("reshape-into-broadcast", given: given, passes: "reshape-into-broadcast, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["ADD"])
        // The ADD computes the same values from the same elements.
        let inputs = [RuntimeTensor(shape: [1, 8], floats: (0..<8).map { Float($0) * 0.5 })!, RuntimeTensor(shape: [1, 8], floats: (0..<8).map { Float($0) - 3 })!]
        XCTAssertEqual(try Interpreter(model: m).run(inputs), try Interpreter(model: given).run(inputs))
    }

    func testReshapeIntoBroadcastKeepsShapeChangingReshapes() throws {
        // [1,8] → [2,4] is not a change of leading 1s.
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [2, 4])
        let h = b.input("h", float32Type, [1, 8])
        let shape = b.ints("shape", [2, 4])
        let r = b.value("r", float32Type, [2, 4])
        let sum = b.value("sum", float32Type, [2, 4])
        b.op(.reshape(newShape: nil), [h, shape], [r])
        b.op(.add(ArithmeticAttributes()), [x, r], [sum])
        b.output(sum)
        var m = b.model
        XCTAssertFalse(try runVerified([ReshapeIntoBroadcast()], on: &m))
        // A reader other than ADD/SUB/MUL keeps the RESHAPE too.
        var c = PassGraphBuilder()
        let y = c.input("y", float32Type, [1, 8])
        let s = c.ints("shape", [8])
        let squeezed = c.value("squeezed", float32Type, [8])
        let relu = c.value("relu", float32Type, [8])
        c.op(.reshape(newShape: nil), [y, s], [squeezed])
        c.op(.relu, [squeezed], [relu])
        c.output(relu)
        var n = c.model
        XCTAssertFalse(try runVerified([ReshapeIntoBroadcast()], on: &n))
    }

    func testOptimizeMemoryKeepsARewriteOnlyWhenTheArenaShrinks() throws {
        var m = try fixture("recurrent/lstm_unrolled_int8.tflite")
        let before = try ArenaReport.analyze(m, build: .standard(.bits64))
        var pass = OptimizeMemory(build: .standard(.bits64))
        var context = PassContext()
        XCTAssertTrue(try pass.run(on: &m, context: &context))
        let after = try ArenaReport.analyze(m, build: .standard(.bits64))
        // TFLM's Python package measured 36736 → 35024 (Tests/Conformance/test_optimize_memory.py).
        XCTAssertEqual(before.minArenaBytes, 36736)
        XCTAssertEqual(after.minArenaBytes, 35024)
        XCTAssertTrue(context.notes.contains { $0.contains("reshape-into-broadcast") }, "\(context.notes)")
        XCTAssertFalse(context.notes.contains { $0.contains("merge-identical-constants") }, "TF's converter shares these constants already")
        XCTAssertEqual(Verifier.verify(m).map(\.description), [])
    }

    // MARK: Offline plans

    func testOfflinePlanRoundTripsAndIsSizedAsTFLMDoes() throws {
        let m = try fixture("memory/narrow_chain_float.tflite")
        let search = try XCTUnwrap(try OfflinePlanSearch.search(m, build: .standard(.bits64)))
        // TFLM's Python package on both files: head 96 → 80, total 1504 → 1488, minimum 1936.
        XCTAssertEqual(search.original.headBytes, 96)
        XCTAssertEqual(search.report.headBytes, 80)
        XCTAssertEqual(search.report.totalBytes, 1488)
        XCTAssertEqual(search.report.minArenaBytes, 1936)
        let written = try exportAndImport(search.model)
        let plan = try XCTUnwrap(try OfflineMemoryPlan.read(from: written))
        XCTAssertEqual(plan.offsets.count, m.subgraphs[0].values.count)
        XCTAssertEqual(plan.offsets.compactMap { $0 }.count, 4, "the four runtime tensors are planned offline")
        XCTAssertEqual(try ArenaReport.analyze(written, build: .standard(.bits64)).headBytes, 80)
        // A model with a plan keeps it and its order.
        XCTAssertNil(try OfflinePlanSearch.search(written, build: .standard(.bits64)))
        XCTAssertFalse(try OpOrderSearch.search(written, build: .standard(.bits64)).improved)
    }

    func testMalformedOfflinePlansAreRefusedWithTheReason() throws {
        let m = try fixture("memory/narrow_chain_float.tflite")
        func attach(_ words: [UInt32]) -> Model {
            var x = m
            x.buffers.append(Buffer(data: ByteSlice(words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } })))
            x.metadata.append(Metadata(name: OfflineMemoryPlan.metadataName, buffer: BufferID(x.buffers.count - 1)))
            return x
        }
        let tensors = UInt32(m.subgraphs[0].values.count)
        for (words, reason) in [
            ([0, 1], "less than its 12-byte header"),
            ([0, 1, tensors], "announces"),
            ([0, 1, 2, UInt32.max, UInt32.max], "2 offsets for \(tensors) tensors"),
            ([0, 1, tensors] + Array(repeating: UInt32(bitPattern: -2), count: Int(tensors)), "the offset -2"),
        ] as [([UInt32], String)] {
            XCTAssertThrowsError(try ArenaReport.analyze(attach(words))) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(error)")
            }
        }
        // All online (-1): the same figures as without the plan.
        let online = attach([0, 1, tensors] + Array(repeating: UInt32.max, count: Int(tensors)))
        XCTAssertEqual(try ArenaReport.analyze(online, build: .standard(.bits64)).headBytes, 96)
    }
}
