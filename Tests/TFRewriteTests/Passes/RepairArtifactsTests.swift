import Foundation
import XCTest

@testable import TFRewrite

/// Writes original/rewritten model pairs for the oracle conformance test
/// (Tests/Conformance/test_repair.py), which runs both on LiteRT and TFLM and compares.
///
///     TFREWRITE_REPAIR_ARTIFACTS=/tmp/repair swift test --filter RepairArtifactsTests
///     TFREWRITE_REPAIR_ARTIFACTS=/tmp/repair pytest Tests/Conformance/test_repair.py
///
/// Without the variable the pairs go to a temporary folder and only the Swift-side checks
/// (verifier, structure) run.
final class RepairArtifactsTests: XCTestCase {
    /// One oracle comparison: runtimes, tolerance, LiteRT resolver ("builtin" = optimized
    /// kernels, "ref" = reference kernels).
    struct Comparison {
        var runtimes: [String]
        var atol: Double
        var litertResolver = "builtin"
        var json: [String: Any] { ["runtimes": runtimes, "atol": atol, "litert_resolver": litertResolver] }
    }

    struct Case {
        var name: String
        var original: String
        var rewritten: String
        var comparisons: [Comparison]
        var kind: String = "same-io"
        var absentOps: [String] = []
        var note: String = ""
    }

    var directory: URL!
    var cases: [Case] = []

    override func setUpWithError() throws {
        if let d = ProcessInfo.processInfo.environment["TFREWRITE_REPAIR_ARTIFACTS"], !d.isEmpty {
            directory = URL(fileURLWithPath: d)
        } else {
            directory = try TestPaths.temporaryDirectory()
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ m: Model, _ file: String) throws -> String {
        XCTAssertEqual(Verifier.verify(m).map(\.description), [], file)
        let path = directory.appendingPathComponent(file).path
        try TFLiteExporter.write(m, to: path)
        // What we wrote reads back as the same IR.
        XCTAssertEqual(IRPrinter.print(try TFLiteImporter.load(path: path)), IRPrinter.print(m), file)
        return path
    }

    func writeManifest(_ name: String) throws {
        let list: [[String: Any]] = cases.map {
            ["name": $0.name, "original": $0.original, "rewritten": $0.rewritten, "comparisons": $0.comparisons.map(\.json),
             "kind": $0.kind, "absent_ops": $0.absentOps, "note": $0.note]
        }
        let data = try JSONSerialization.data(withJSONObject: ["cases": list], options: [.prettyPrinted, .sortedKeys])
        try data.write(to: directory.appendingPathComponent(name))
    }

    func fixturePair(_ fixture: String, _ passes: [any GraphPass], tag: String, batch: Int? = nil, atol: Double, kind: String = "same-io", absent: [String]) throws {
        let url = TestPaths.fixtures.appendingPathComponent(fixture + ".tflite")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("fixture \(fixture) absent") }
        var m = try TFLiteImporter.load(path: url.path)
        var ctx = PassContext(batch: batch)
        try runVerified(passes, on: &m, context: &ctx)
        for op in absent { XCTAssertFalse(liveOpNames(m).contains(op), "\(fixture): \(op) still there") }
        let out = try write(m, "\(fixture).\(tag).tflite")
        cases.append(Case(name: "\(fixture).\(tag)", original: url.path, rewritten: out, comparisons: [Comparison(runtimes: ["litert", "tflm"], atol: atol)], kind: kind, absentOps: absent))
    }

    func testFixturePairs() throws {
        try fixturePair("micro_speech_int8", [ConvToDepthwise()], tag: "conv-to-depthwise", atol: 0, absent: ["CONV_2D"])
        try fixturePair("micro_speech_float", [ConvToDepthwise()], tag: "conv-to-depthwise", atol: 1e-6, absent: ["CONV_2D"])
        try fixturePair("ds_cnn_int8", [FoldShapes(), Cleanup()], tag: "fold-shapes", batch: 1, atol: 0, absent: ["SHAPE", "STRIDED_SLICE", "PACK"])
        try fixturePair("ds_cnn_float", [FoldShapes(), Cleanup()], tag: "fold-shapes", batch: 1, atol: 0, absent: ["SHAPE", "STRIDED_SLICE", "PACK"])
        try fixturePair("qdq_float_io", [Int8IO(), Cleanup()], tag: "int8-io", atol: 0, kind: "int8-io", absent: ["QUANTIZE", "DEQUANTIZE"])
        for f in ["micro_speech_int8", "ds_cnn_int8", "qdq_float_io"] {
            try fixturePair(f, [try Strip(options: PassOptions(["metadata": .bool(true), "keep_io_names": .bool(false)]))], tag: "strip", atol: 0, absent: [])
        }
        try writeManifest("fixtures.json")
    }

    /// Random 1-channel convs (geometry, quantization, activation, bias) and their depthwise
    /// rewrites: checks that TFLM's and LiteRT's DEPTHWISE_CONV_2D take what the pass emits.
    func testRandomConvPairs() throws {
        var rng = SplitMix64(seed: 0xC0DE_2026)
        for k in 0..<40 {
            let spec = RandomConvModels.convSpec(&rng, int8: k % 2 == 0)
            let given = RandomConvModels.oneChannelConv(spec, &rng)
            var m = given
            try runVerified([ConvToDepthwise()], on: &m)
            XCTAssertEqual(liveOpNames(m), ["DEPTHWISE_CONV_2D"])
            let a = try write(given, "conv\(k).tflite"), b = try write(m, "conv\(k).dw.tflite")
            // TFLM and LiteRT's reference kernels must agree bit for bit. LiteRT's optimized
            // CONV_2D and DEPTHWISE_CONV_2D int8 kernels round differently (up to 1 quantum
            // apart on the same math, measured here), so that comparison gets 1 quantum.
            // LiteRT's CONV_2D refuses to run without a bias: those originals run on TFLM only.
            let full = spec.int8
                ? [Comparison(runtimes: ["tflm"], atol: 0), Comparison(runtimes: ["litert"], atol: 0, litertResolver: "ref"), Comparison(runtimes: ["litert"], atol: 1)]
                : [Comparison(runtimes: ["tflm"], atol: 1e-5), Comparison(runtimes: ["litert"], atol: 1e-5, litertResolver: "ref"), Comparison(runtimes: ["litert"], atol: 1e-5)]
            cases.append(Case(name: "conv\(k)", original: a, rewritten: b, comparisons: spec.hasBias ? full : [full[0]], absentOps: ["CONV_2D"], note: spec.description))
            // And back: depthwise-to-conv on the depthwise model (which always has a bias).
            var back = m
            try runVerified([DepthwiseToConv()], on: &back)
            XCTAssertEqual(liveOpNames(back), ["CONV_2D"])
            let c = try write(back, "conv\(k).dw.conv.tflite")
            cases.append(Case(name: "conv\(k).back", original: b, rewritten: c, comparisons: full, absentOps: ["DEPTHWISE_CONV_2D"], note: spec.description))
        }
        try writeManifest("convs.json")
    }

    /// Random shape arithmetic on constants (or on SHAPE of a runtime input), consumed by an
    /// ADD with a runtime int32 input; folded vs not folded must agree on LiteRT, whose kernels
    /// are the reference for the evaluator's semantics.
    func testRandomFoldPairs() throws {
        var rng = SplitMix64(seed: 0xF01D)
        var made = 0
        var attempts = 0
        while made < 60 && attempts < 2000 {
            attempts += 1
            guard let given = RandomFolds.model(&rng) else { continue }
            var m = given
            try runVerified([FoldShapes(), Cleanup()], on: &m)
            guard liveOpNames(m) == ["ADD"] else {
                XCTFail("not folded: \(liveOpNames(m))\n\(IRPrinter.print(given))")
                continue
            }
            let a = try write(given, "fold\(made).tflite"), b = try write(m, "fold\(made).folded.tflite")
            cases.append(Case(name: "fold\(made)", original: a, rewritten: b, comparisons: [Comparison(runtimes: ["litert"], atol: 0)], note: liveOpNames(given).joined(separator: ",")))
            made += 1
        }
        XCTAssertEqual(made, 60)
        try writeManifest("folds.json")
    }
}

/// Random models for the fold conformance test.
enum RandomFolds {
    static func model<G: RandomNumberGenerator>(_ rng: inout G) -> Model? {
        var b = PassGraphBuilder()
        // The data: a constant, or SHAPE of a runtime input.
        var data: ValueID
        var dataT: IntTensor
        if Int.random(in: 0..<3, using: &rng) == 0 {
            let rank = Int.random(in: 1...5, using: &rng)
            let dims = (0..<rank).map { _ in Int32.random(in: 1...4, using: &rng) }
            let x = b.input("x", float32Type, dims)
            data = b.value("shape", int32Type, [Int32(rank)])
            b.op(.shape(outType: .int32), [x], [data])
            dataT = IntTensor(dtype: .int32, shape: [rank], values: dims.map(Int64.init))
        } else {
            let rank = Int.random(in: 1...4, using: &rng)
            let shape = (0..<rank).map { _ in Int.random(in: 1...4, using: &rng) }
            let values = (0..<shape.reduce(1, *)).map { _ in Int64.random(in: -50...50, using: &rng) }
            dataT = IntTensor(dtype: .int32, shape: shape, values: values)
            data = b.constant("data", dataT.constant()!)
        }
        let r = dataT.shape.count
        var result: IntTensor?
        var kind: OpKind
        var inputs: [ValueID] = [data]
        var version: Int32 = 1
        switch Int.random(in: 0..<8, using: &rng) {
        case 0, 1:
            let n = Int.random(in: 1...(r + 1), using: &rng)
            func mask() -> Int32 { Int32.random(in: 0..<(1 << n), using: &rng) }
            var a = StridedSliceAttributes(beginMask: mask(), endMask: mask(), newAxisMask: Int.random(in: 0..<3, using: &rng) == 0 ? mask() & mask() : 0, shrinkAxisMask: mask() & mask())
            if Int.random(in: 0..<3, using: &rng) == 0 { a.ellipsisMask = 1 << Int32.random(in: 0..<Int32(n), using: &rng) }
            if Int.random(in: 0..<6, using: &rng) == 0 { a.offset = true }
            let begin = (0..<n).map { _ in Int64.random(in: -5...5, using: &rng) }
            let end = (0..<n).map { _ in Int64.random(in: -5...5, using: &rng) }
            let strides = (0..<n).map { _ in [-2, -1, 1, 1, 2].randomElement(using: &rng)! } as [Int64]
            result = ShapeArithmetic.stridedSlice(dataT, begin: begin, end: end, strides: strides, a)
            kind = .stridedSlice(a)
            for (nm, v) in [("begin", begin), ("end", end), ("strides", strides)] { inputs.append(b.ints(nm, v.map { Int32($0) })) }
            // op_version.cc: offset → 8, ellipsis/new_axis → 6 (int32 otherwise 1).
            version = a.offset ? 8 : (a.ellipsisMask != 0 || a.newAxisMask != 0 ? 6 : 1)
        case 2:
            let axis = Int.random(in: -r...(r - 1), using: &rng)
            let size = dataT.shape[(axis + r) % r]
            let count = Int.random(in: 1...4, using: &rng)
            let idx = (0..<count).map { _ in Int32.random(in: 0..<Int32(size), using: &rng) }
            let idxT = IntTensor(dtype: .int32, shape: [count], values: idx.map(Int64.init))
            result = ShapeArithmetic.gather(dataT, indices: idxT, axis: axis, batchDims: 0)
            kind = .gather(axis: Int32(axis), batchDims: 0)
            inputs.append(b.ints("indices", idx))
        case 3:
            let axis = Int.random(in: -(r + 1)...r, using: &rng)
            result = ShapeArithmetic.pack([dataT, dataT], axis: axis)
            kind = .pack(valuesCount: 2, axis: Int32(axis))
            inputs = [data, data]
        case 4:
            let axis = Int.random(in: -r...(r - 1), using: &rng)
            result = ShapeArithmetic.concatenate([dataT, dataT], axis: axis)
            kind = .concatenation(axis: Int32(axis), activation: .none)
            inputs = [data, data]
        default:
            // Binary op with a broadcast constant (last dim or scalar).
            let shape: [Int] = Bool.random(using: &rng) ? [] : [dataT.shape[r - 1]]
            let n = shape.reduce(1, *)
            let which = Int.random(in: 0..<5, using: &rng)
            let values = (0..<n).map { _ in which >= 3 ? [-3, -2, -1, 1, 2, 3, 5].randomElement(using: &rng)! : Int64.random(in: -9...9, using: &rng) }
            let otherT = IntTensor(dtype: .int32, shape: shape, values: values)
            let other = b.constant("other", otherT.constant()!)
            inputs.append(other)
            switch which {
            case 0: kind = .add(ArithmeticAttributes()); result = ShapeArithmetic.broadcast(dataT, otherT, ShapeArithmetic.add)
            case 1: kind = .sub(ArithmeticAttributes()); result = ShapeArithmetic.broadcast(dataT, otherT, ShapeArithmetic.subtract)
            case 2: kind = .mul(activation: .none); result = ShapeArithmetic.broadcast(dataT, otherT, ShapeArithmetic.multiply)
            case 3: kind = .builtin(.div, options: nil); result = ShapeArithmetic.broadcast(dataT, otherT, ShapeArithmetic.divide)
            default: kind = .builtin(BuiltinOperator(name: "FLOOR_DIV")!, options: nil); result = ShapeArithmetic.broadcast(dataT, otherT, ShapeArithmetic.floorDivide)
            }
        }
        guard let result, result.elementCount > 0, result.shape.count <= 5 else { return nil }
        let dims = result.shape.map { Int32($0) }
        let y = b.value("y", int32Type, dims)
        b.op(kind, version: version, inputs, [y])
        let z = b.input("z", int32Type, dims)
        let out = b.value("out", int32Type, dims)
        b.op(.add(ArithmeticAttributes()), [y, z], [out])
        b.output(out)
        return b.model
    }
}
