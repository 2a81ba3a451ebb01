import Foundation
import XCTest

@testable import TFRewrite

/// Loading samples (.npy / .npz / folder / random:N) and running calibration.
final class CalibrationTests: XCTestCase {
    let input = ModelInputSpec(name: "x", dtype: .float32, shape: [1, 4])

    func floats(_ shape: [Int], _ values: [Float]) -> NpyArray {
        NpyArray(dtype: .float32, shape: shape, data: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }

    /// The chunked, parallel normal generator gives exactly the values (and leaves exactly the
    /// state) of one `nextNormal()` call after another, with or without a pending spare value.
    func testBulkNormalsEqualOneByOne() {
        for count in [1, 2, 3, 7, 40_000, 100_001] {
            for skipFirst in [false, true] {
                var bulk = SplitMix64(seed: 5), single = SplitMix64(seed: 5)
                if skipFirst {
                    _ = bulk.nextNormal()
                    _ = single.nextNormal()
                }
                let got = bulk.normals(count: count)
                let want = (0..<count).map { _ in Float(single.nextNormal()) }
                XCTAssertEqual(got, want, "count \(count) skipFirst \(skipFirst)")
                XCTAssertEqual(bulk.nextNormal(), single.nextNormal(), "state after count \(count)")
                XCTAssertEqual(bulk.next(), single.next())
            }
        }
    }

    func testNpySplitsSamplesOnTheFirstAxis() throws {
        let a = floats([3, 1, 4], (0..<12).map(Float.init))
        let s = try SampleData.samples(from: [("calib", a)], path: "calib.npy", for: [input])
        XCTAssertEqual(s.count, 3)
        XCTAssertEqual(s.samples[2][0].shape, [1, 4])
        XCTAssertEqual(s.samples[2][0].floats, [8, 9, 10, 11])
        XCTAssertFalse(s.isRandom)
        // [N, 4] also fits an input of [1, 4]; a single sample may come without the N axis.
        XCTAssertEqual(try SampleData.samples(from: [("c", floats([3, 4], (0..<12).map(Float.init)))], path: "c", for: [input]).count, 3)
        XCTAssertEqual(try SampleData.samples(from: [("c", floats([4], [1, 2, 3, 4]))], path: "c", for: [input]).count, 1)
    }

    func testWrongShapeNamesTheFileAndTheShapes() {
        let a = floats([2, 5], (0..<10).map(Float.init))
        XCTAssertThrowsError(try SampleData.samples(from: [("calib", a)], path: "calib.npy", for: [input])) { e in
            XCTAssertEqual("\(e)", "calib.npy: array of shape [2, 5] does not hold samples of input 'x' with shape [1, 4] (expected [N, 1, 4])")
        }
        let ints = NpyArray(dtype: .int32, shape: [1, 4], data: [UInt8](repeating: 0, count: 16))
        let i8Input = ModelInputSpec(name: "q", dtype: .int8, shape: [1, 4])
        XCTAssertThrowsError(try SampleData.samples(from: [("c", ints)], path: "c.npy", for: [i8Input])) { e in
            XCTAssertEqual("\(e)", "c.npy: <i4 data cannot feed input 'q' of type INT8")
        }
    }

    func testNpzMatchesArraysToInputsByName() throws {
        let inputs = [ModelInputSpec(name: "serving/a:0", dtype: .float32, shape: [2]), ModelInputSpec(name: "b", dtype: .float32, shape: [3])]
        let arrays = [("b", floats([2, 3], [1, 2, 3, 4, 5, 6])), ("serving_a_0", floats([2, 2], [7, 8, 9, 10]))]
        let s = try SampleData.samples(from: arrays, path: "data.npz", for: inputs)
        XCTAssertEqual(s.count, 2)
        XCTAssertEqual(s.samples[1][0].floats, [9, 10])
        XCTAssertEqual(s.samples[1][1].floats, [4, 5, 6])
        XCTAssertThrowsError(try SampleData.samples(from: [arrays[0]], path: "data.npz", for: inputs)) { e in
            XCTAssertTrue("\(e)".hasPrefix("data.npz: no array for input 0 'serving/a:0'"), "\(e)")
        }
        XCTAssertThrowsError(try SampleData.samples(from: [("b", floats([2, 3], [1, 2, 3, 4, 5, 6])), ("serving_a_0", floats([3, 2], [1, 2, 3, 4, 5, 6]))], path: "d.npz", for: inputs)) { e in
            XCTAssertEqual("\(e)", "d.npz: inputs have different sample counts [3, 2]")
        }
    }

    func testFolderOfNpyFilesAndFloat64() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Npy.write(floats([1, 4], [1, 2, 3, 4]), path: dir.appendingPathComponent("s0.npy").path)
        let doubles: [Double] = [5, 6, 7, 8, 9, 10, 11, 12]
        let d = NpyArray(dtype: .float64, shape: [2, 4], data: doubles.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        try Npy.write(d, path: dir.appendingPathComponent("s1.npy").path)
        let s = try SampleData.load(dir.path, for: [input])
        XCTAssertEqual(s.count, 3)
        XCTAssertEqual(s.samples.map { $0[0].floats! }, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
        XCTAssertThrowsError(try SampleData.load(dir.appendingPathComponent("missing.npy").path, for: [input])) { e in
            XCTAssertTrue("\(e)".contains("missing.npy: no such file"), "\(e)")
        }
    }

    func testRandomSamplesAreSeededAndCounted() throws {
        XCTAssertEqual(try SampleData.randomCount("random:8"), 8)
        XCTAssertNil(try SampleData.randomCount("calib.npy"))
        XCTAssertThrowsError(try SampleData.randomCount("random:0"))
        XCTAssertThrowsError(try SampleData.randomCount("random:x"))
        let a = try SampleData.load("random:5", for: [input], seed: 3)
        let b = try SampleData.load("random:5", for: [input], seed: 3)
        let c = try SampleData.load("random:5", for: [input], seed: 4)
        XCTAssertTrue(a.isRandom)
        XCTAssertEqual(a.count, 5)
        XCTAssertEqual(a.samples.map { $0[0] }, b.samples.map { $0[0] })
        XCTAssertNotEqual(a.samples.map { $0[0] }, c.samples.map { $0[0] })
        let all = a.samples.flatMap { $0[0].floats! }
        XCTAssertGreaterThan(all.max()!, 0)
        XCTAssertLessThan(all.min()!, 0)
    }

    /// Calibration sees graph inputs (from the samples) and every op output; the percentile
    /// pass narrows a range stretched by one outlier sample.
    func testCalibratorRangesAndPercentile() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4])
        let r = b.value("r", qf32, [1, 4])
        b.op(.relu, [x], [r])
        b.output(r)
        var samples = (0..<99).map { i in [RuntimeTensor(shape: [1, 4], floats: [Float(i % 10) / 10, -1, 0.5, Float(i) / 100])!] }
        samples.append([RuntimeTensor(shape: [1, 4], floats: [100, -1, 0.5, 0])!])
        let set = SampleSet(samples: samples, source: "test", isRandom: false)
        let mm = try Calibrator.calibrate(b.model, samples: set, threads: 2)
        XCTAssertEqual(mm[x], ObservedRange(min: -1, max: 100))
        XCTAssertEqual(mm[r], ObservedRange(min: 0, max: 100))
        XCTAssertEqual(mm.samples, 100)
        XCTAssertEqual(mm.method, "min/max")
        let p = try Calibrator.calibrate(b.model, samples: set, percentile: 99, threads: 1)
        XCTAssertEqual(p.method, "percentile 99.0")
        XCTAssertLessThan(p[r]!.max, 2)
        XCTAssertGreaterThan(p[r]!.max, 0.8)
        XCTAssertThrowsError(try Calibrator.calibrate(b.model, samples: set, percentile: 20)) { e in
            XCTAssertEqual("\(e)", "--percentile 20.0: expected a value in (50, 100], e.g. 99.99")
        }
        XCTAssertThrowsError(try Calibrator.calibrate(b.model, samples: SampleSet(samples: [], source: "none", isRandom: false)))
    }

    /// Progress counts arrive in order from several workers, also when the callback is slow
    /// (here every other call sleeps, which let a worker's stale count land after a newer one
    /// when calls could overlap; the CLI then ended on "15/16 samples").
    func testProgressCountsArriveInOrderFromSeveralWorkers() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4])
        let r = b.value("r", qf32, [1, 4])
        b.op(.relu, [x], [r])
        b.output(r)
        let samples = (0..<64).map { i in [RuntimeTensor(shape: [1, 4], floats: [Float(i), -1, 0.5, 0])!] }
        final class Calls: @unchecked Sendable {
            let lock = NSLock()
            var seen: [Int] = []
        }
        let calls = Calls()
        _ = try Calibrator.calibrate(b.model, samples: SampleSet(samples: samples, source: "test", isRandom: false), threads: 4) { done, total, _ in
            if done % 2 == 1 { usleep(500) }
            calls.lock.lock()
            calls.seen.append(done)
            calls.lock.unlock()
            XCTAssertEqual(total, 64)
        }
        XCTAssertEqual(calls.seen, Array(1...64))
    }

    /// A hostile model can declare any input shape: random samples and .npy splitting refuse
    /// shapes the interpreter could never hold, or whose element count overflows, with an
    /// error naming the input (found by fuzzing: an input of [1,12,12,1073741825] made
    /// `random:2` ask for 618 GB and abort).
    func testHugeOrOverflowingInputShapesAreRefused() throws {
        let huge = ModelInputSpec(name: "image", dtype: .float32, shape: [1, 12, 12, 1_073_741_825])
        XCTAssertThrowsError(try SampleData.random(count: 2, for: [huge])) { e in
            XCTAssertEqual("\(e)", "input 'image' has shape [1, 12, 12, 1073741825]: too large to feed (over 2 GiB per sample)")
        }
        let overflowing = ModelInputSpec(name: "x", dtype: .int8, shape: [1 << 31, 1 << 31, 1 << 31])
        XCTAssertNil(overflowing.elementCount)
        XCTAssertThrowsError(try SampleData.random(count: 1, for: [overflowing]))
        XCTAssertThrowsError(try SampleData.split(NpyArray(dtype: .float32, shape: [2, 4], data: [UInt8](repeating: 0, count: 32)), for: overflowing, at: "x.npy"))
        // Each sample fits, all of them together do not.
        let big = ModelInputSpec(name: "x", dtype: .float32, shape: [1, 1 << 20])
        XCTAssertThrowsError(try SampleData.random(count: 2000, for: [big])) { e in
            XCTAssertTrue("\(e)".hasPrefix("random:2000 would need 8388608000 bytes of samples"), "\(e)")
        }
        // The model-level entry point reports it the same way.
        var b = QuantGraphBuilder()
        let x = b.input("image", qf32, [1, 12, 12, 1_073_741_825])
        let r = b.value("r", qf32, [1, 12, 12, 1_073_741_825])
        b.op(.relu, [x], [r])
        b.output(r)
        XCTAssertThrowsError(try PostTrainingQuantization.run(b.model, PostTrainingQuantizationRequest(calibration: "random:2"))) { e in
            XCTAssertTrue("\(e)".contains("too large to feed"), "\(e)")
        }
    }

    /// Channel means for bias correction: per NHWC channel for a conv input.
    func testChannelMeans() throws {
        var o = ChannelMeanObserver(channels: [ValueID(0): 2])
        [Float]([1, 10, 3, 20]).withUnsafeBufferPointer { o.observe(ValueID(0), $0) }
        [Float]([5, 30]).withUnsafeBufferPointer { o.observe(ValueID(0), $0) }
        [Float]([1, 2, 3]).withUnsafeBufferPointer { o.observe(ValueID(1), $0) }
        XCTAssertEqual(o.means[ValueID(0)], [3, 20])
        XCTAssertNil(o.means[ValueID(1)])
    }
}
