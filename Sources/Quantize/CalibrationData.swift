import Foundation
import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

/// One input tensor of a model, as the calibration data must match it.
public struct ModelInputSpec: Hashable, Sendable {
    public var name: String
    public var dtype: DType
    /// Static shape (dynamic dimensions as 1, as the interpreter allocates them).
    public var shape: [Int]
    public var quantization: Quantization?

    public init(name: String, dtype: DType, shape: [Int], quantization: Quantization? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.quantization = quantization
    }

    /// The inputs of a model's subgraph 0.
    public static func inputs(of model: Model) -> [ModelInputSpec] {
        guard let g = model.subgraphs.first else { return [] }
        return g.inputs.compactMap { id in
            guard !id.isAbsent, id.index < g.values.count else { return nil }
            let v = g[id]
            return ModelInputSpec(name: v.name, dtype: v.dtype, shape: v.shape.map { Int(max($0, 1)) }, quantization: v.quantization)
        }
    }

    /// Elements of one sample; nil when a dimension is negative or the count overflows (a
    /// hostile file can declare any shape).
    public var elementCount: Int? { RuntimeTensor.elementCount(shape) }

    /// One sample's elements, or an error naming the input when the interpreter could never
    /// hold it (more than `Slot.maxBytes`).
    package func checkedElementCount() throws -> Int {
        let size = dtype.byteSize ?? 1
        guard let n = elementCount, n <= Slot.maxBytes / size else {
            throw QuantizeError.calibration("input '\(name)' has shape \(shape): too large to feed (over \(Slot.maxBytes >> 30) GiB per sample)")
        }
        return n
    }
}

/// Input samples for calibration or comparison: `samples[s][k]` is sample `s` of model input
/// `k`, already shaped like the input. Float inputs hold float32 data.
public struct SampleSet: Sendable {
    public var samples: [[RuntimeTensor]]
    /// Where the samples came from, for messages ("calib.npy (32 samples)").
    public var source: String
    /// True for generated random samples: accuracy measured with them means little.
    public var isRandom: Bool

    public init(samples: [[RuntimeTensor]], source: String, isRandom: Bool) {
        self.samples = samples
        self.source = source
        self.isRandom = isRandom
    }

    public var count: Int { samples.count }
}

/// Loading sample data for a model's inputs from what users have:
/// - a `.npy` with samples on the first axis (`[N, ...input shape]`; a single sample may also be
///   given without the leading axis);
/// - a `.npz` with one such array per input, named after the input tensor;
/// - a folder of `.npy` files, read in file-name order, each holding one or more samples
///   (single-input models);
/// - `random:N`: N seeded random samples (normal(0,1) for float inputs).
public enum SampleData {
    public static let randomPrefix = "random:"

    /// Parses `random:N`; nil when `spec` is not of that form.
    public static func randomCount(_ spec: String) throws -> Int? {
        guard spec.hasPrefix(randomPrefix) else { return nil }
        let text = spec.dropFirst(randomPrefix.count)
        guard let n = Int(text), n > 0, n <= 1_000_000 else {
            throw QuantizeError.badOption("'\(spec)': expected random:N with N a positive count")
        }
        return n
    }

    /// Loads `spec` (a path or `random:N`) for the given inputs.
    public static func load(_ spec: String, for inputs: [ModelInputSpec], seed: UInt64 = 1) throws -> SampleSet {
        if let n = try randomCount(spec) { return try random(count: n, for: inputs, seed: seed) }
        let arrays: [(name: String, array: NpyArray)]
        do {
            arrays = try Npy.load(path: spec)
        } catch let e as NpyError {
            throw QuantizeError.calibration("cannot read samples: \(e)")
        }
        return try samples(from: arrays, path: spec, for: inputs)
    }

    /// Matches arrays to inputs and splits them into samples.
    public static func samples(from arrays: [(name: String, array: NpyArray)], path: String, for inputs: [ModelInputSpec]) throws -> SampleSet {
        guard !inputs.isEmpty else { throw QuantizeError.calibration("the model has no inputs to feed") }
        guard !arrays.isEmpty else { throw QuantizeError.calibration("\(path): holds no arrays") }
        var perInput: [[RuntimeTensor]] = []
        if inputs.count == 1 {
            // One input: an array named after it wins; otherwise every array adds samples in order.
            let chosen = arrays.filter { matches($0.name, inputs[0], index: 0) }
            let use = arrays.count > 1 && !chosen.isEmpty ? chosen : arrays
            var all: [RuntimeTensor] = []
            for (name, a) in use {
                let where_ = use.count > 1 || arrays.count > 1 ? "\(path)[\(name)]" : path
                all += try split(a, for: inputs[0], at: where_)
            }
            perInput = [all]
        } else {
            for (k, input) in inputs.enumerated() {
                let found = arrays.filter { matches($0.name, input, index: k) }
                guard let first = found.first else {
                    let names = arrays.map { "'\($0.name)'" }.joined(separator: ", ")
                    throw QuantizeError.calibration("\(path): no array for input \(k) '\(input.name)' (the model has \(inputs.count) inputs; arrays: \(names); name each array after its input)")
                }
                perInput.append(try split(first.array, for: input, at: "\(path)[\(first.name)]"))
            }
            let counts = perInput.map(\.count)
            guard Set(counts).count == 1 else {
                throw QuantizeError.calibration("\(path): inputs have different sample counts \(counts)")
            }
        }
        let n = perInput[0].count
        guard n > 0 else { throw QuantizeError.calibration("\(path): holds no samples") }
        let samples = (0..<n).map { s in perInput.map { $0[s] } }
        return SampleSet(samples: samples, source: "\(path) (\(n) sample\(n == 1 ? "" : "s"))", isRandom: false)
    }

    /// True when an array's name refers to input `k`: its tensor name (also with '/' and ':'
    /// written as '_', as file names need), or `input_k` / `k`.
    package static func matches(_ arrayName: String, _ input: ModelInputSpec, index k: Int) -> Bool {
        let sanitized = String(input.name.map { $0 == "/" || $0 == ":" ? "_" : $0 })
        let withoutPort = input.name.split(separator: ":").first.map(String.init) ?? input.name
        return arrayName == input.name || arrayName == sanitized || arrayName == withoutPort
            || arrayName == "input_\(k)" || arrayName == "\(k)"
    }

    /// Splits an array into samples of `input`: one sample when it holds exactly one input's
    /// elements, else `[N, ...]` with N samples.
    package static func split(_ a: NpyArray, for input: ModelInputSpec, at path: String) throws -> [RuntimeTensor] {
        let per = try input.checkedElementCount()
        let total = a.elementCount
        let count: Int
        if total == per {
            count = 1
        } else if a.shape.count >= 1, per > 0, RuntimeTensor.elementCount(Array(a.shape.dropFirst())) == per {
            count = a.shape[0]
        } else {
            throw QuantizeError.calibration("\(path): array of shape \(a.shape) does not hold samples of input '\(input.name)' with shape \(input.shape) (expected [N, \(input.shape.map(String.init).joined(separator: ", "))])")
        }
        try checkLayout(count == 1 && total == per ? a.shape : Array(a.shape.dropFirst()), of: a, for: input, at: path)
        guard let values = convert(a, to: input.dtype, acceptsReal: input.quantization?.hasScales ?? false) else {
            throw QuantizeError.calibration("\(path): \(a.dtype.rawValue) data cannot feed input '\(input.name)' of type \(input.dtype.name)")
        }
        var out: [RuntimeTensor] = []
        out.reserveCapacity(count)
        for s in 0..<count {
            let range = (s * per)..<((s + 1) * per)
            guard let t = values.slice(range, shape: input.shape) else {
                throw QuantizeError.calibration("\(path): sample \(s) cannot be shaped \(input.shape)")
            }
            out.append(t)
        }
        return out
    }

    /// A sample must have the input's shape, size-1 axes aside: (N, 10, 49) data for a
    /// (1, 49, 10) input holds the right number of values in the wrong layout (transposed
    /// features and frames) and would calibrate, silently, on nonsense. A flat side (one axis
    /// of more than 1) is a plain reshape and is accepted.
    package static func checkLayout(_ sampleShape: [Int], of a: NpyArray, for input: ModelInputSpec, at path: String) throws {
        let given = sampleShape.filter { $0 != 1 }, wanted = input.shape.filter { $0 != 1 }
        guard given != wanted, given.count >= 2, wanted.count >= 2 else { return }
        let expected = "[N, " + input.shape.drop { $0 == 1 }.map(String.init).joined(separator: ", ") + "]"
        throw QuantizeError.calibration("\(path): array of shape \(a.shape) holds samples of shape \(sampleShape), but input '\(input.name)' has shape \(input.shape): same size, different layout (transposed axes?); give \(expected)")
    }

    /// Array data converted to the input's dtype: any numeric data feeds a float32 input;
    /// other inputs need the same dtype.
    package enum Converted {
        case floats([Float])
        case tensor(RuntimeTensor)

        package func slice(_ r: Range<Int>, shape: [Int]) -> RuntimeTensor? {
            switch self {
            case .floats(let f): return RuntimeTensor(shape: shape, floats: Array(f[r]))
            case .tensor(let t):
                switch t.storage {
                case .float32(let a): return RuntimeTensor(shape: shape, storage: .float32(Array(a[r])))
                case .int8(let a): return RuntimeTensor(shape: shape, storage: .int8(Array(a[r])))
                case .uint8(let a): return RuntimeTensor(shape: shape, storage: .uint8(Array(a[r])))
                case .int16(let a): return RuntimeTensor(shape: shape, storage: .int16(Array(a[r])))
                case .int32(let a): return RuntimeTensor(shape: shape, storage: .int32(Array(a[r])))
                case .int64(let a): return RuntimeTensor(shape: shape, storage: .int64(Array(a[r])))
                case .uint32(let a): return RuntimeTensor(shape: shape, storage: .uint32(Array(a[r])))
                case .uint64(let a): return RuntimeTensor(shape: shape, storage: .uint64(Array(a[r])))
                case .bool(let a): return RuntimeTensor(shape: shape, storage: .bool(Array(a[r])))
                }
            }
        }
    }

    /// A quantized integer input also takes real (float) data, which the caller quantizes.
    package static func convert(_ a: NpyArray, to dtype: DType, acceptsReal: Bool = false) -> Converted? {
        let flat = NpyArray(dtype: a.dtype, shape: [a.elementCount], data: a.data)
        let isReal = a.dtype == .float32 || a.dtype == .float64
        if dtype == .float32 || (acceptsReal && isReal) {
            guard let t = flat.tensor(convertingTo: .float32) else { return nil }
            if let f = t.floats { return .floats(f) }
            return .floats(t.doubles.map { Float($0) })
        }
        guard a.dtype.dtype == dtype, let t = flat.tensor() else { return nil }
        return .tensor(t)
    }

    /// `count` seeded samples: float inputs normal(0, 1), integer inputs uniform in their range
    /// (wide integer types in [0, 8), as they are usually indices or sizes), bools a fair coin.
    /// Random samples are held in memory at once: at most this many bytes in all.
    public static let maxRandomBytes = 1 << 32

    public static func random(count: Int, for inputs: [ModelInputSpec], seed: UInt64 = 1, floatRange: [ClosedRange<Float>?]? = nil) throws -> SampleSet {
        let counts = try inputs.map { try $0.checkedElementCount() }
        let bytesPerSample = zip(inputs, counts).reduce(0) { $0 + $1.1 * ($1.0.dtype.byteSize ?? 1) }
        let (total, overflow) = bytesPerSample.multipliedReportingOverflow(by: count)
        guard !overflow, total <= min(maxRandomBytes, MemoryBudget.bytes) else {
            throw QuantizeError.calibration("random:\(count) would need \(overflow ? "more than 2^63" : String(total)) bytes of samples (at most \(MemoryBudget.describe(min(maxRandomBytes, MemoryBudget.bytes)))); use fewer samples")
        }
        var rng = SplitMix64(seed: seed)
        var samples: [[RuntimeTensor]] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            var sample: [RuntimeTensor] = []
            for (k, input) in inputs.enumerated() {
                let n = counts[k]
                let t: RuntimeTensor?
                switch input.dtype {
                case .float32:
                    if let r = floatRange?[k] ?? nil {
                        t = RuntimeTensor(shape: input.shape, floats: (0..<n).map { _ in r.lowerBound + (r.upperBound - r.lowerBound) * Float(rng.nextUnit()) })
                    } else {
                        t = RuntimeTensor(shape: input.shape, floats: rng.normals(count: n))
                    }
                case .int8: t = RuntimeTensor(shape: input.shape, int8s: (0..<n).map { _ in Int8(truncatingIfNeeded: rng.next()) })
                case .uint8: t = RuntimeTensor(shape: input.shape, uint8s: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                case .int16: t = RuntimeTensor(shape: input.shape, int16s: (0..<n).map { _ in Int16(truncatingIfNeeded: rng.next()) })
                case .int32: t = RuntimeTensor(shape: input.shape, int32s: (0..<n).map { _ in Int32(rng.next() % 8) })
                case .int64: t = RuntimeTensor(shape: input.shape, int64s: (0..<n).map { _ in Int64(rng.next() % 8) })
                case .bool: t = RuntimeTensor(shape: input.shape, bools: (0..<n).map { _ in rng.next() & 1 == 1 })
                default: t = RuntimeTensor.zeros(.float32, shape: input.shape)
                }
                sample.append(t ?? RuntimeTensor(shape: [0], floats: [])!)
            }
            samples.append(sample)
        }
        return SampleSet(samples: samples, source: "\(count) random sample\(count == 1 ? "" : "s") (seed \(seed))", isRandom: true)
    }
}

/// A small seeded generator (SplitMix64), so random samples are the same on every machine.
/// Also a RandomNumberGenerator, for the tests' seeded `Float.random(in:using:)`.
package struct SplitMix64: RandomNumberGenerator {
    package var state: UInt64
    package init(seed: UInt64) { state = seed }
    package static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15
    package mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }
    /// The output for a given state: each call of `next` is a pure function of the state it
    /// lands on, so the k-th value ahead is `mix(state + k·increment)`.
    @inline(__always) package static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    @inline(__always) package static func unit(_ bits: UInt64) -> Double { Double(bits >> 11) / Double(1 << 53) }
    /// Uniform in [0, 1).
    package mutating func nextUnit() -> Double { Self.unit(next()) }
    /// The second value of the last Box–Muller pair.
    package var spare: Double?
    /// Standard normal (Box–Muller; each pair of uniforms gives two values).
    package mutating func nextNormal() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        let (c, sn) = Self.boxMuller(nextUnit(), nextUnit())
        spare = sn
        return c
    }
    /// One Box–Muller pair from two uniforms: (r·cos a, r·sin a).
    @inline(__always) package static func boxMuller(_ u1: Double, _ u2: Double) -> (Double, Double) {
        let r = (-2 * log(max(u1, 1e-300))).squareRoot(), a = 2 * Double.pi * u2
        return (r * cos(a), r * sin(a))
    }

    /// `count` values of `nextNormal()` as Float, exactly as that many calls would give them
    /// (and leaving the generator in the same state), computed on all cores for large counts:
    /// pair j reads the generator's values 2j+1 and 2j+2 ahead, so chunks need no shared state.
    package mutating func normals(count: Int) -> [Float] {
        guard count > 0 else { return [] }
        var out = [Float](repeating: 0, count: count)
        var first = 0
        if let s = spare {
            out[0] = Float(s)
            spare = nil
            first = 1
        }
        let pairs = (count - first + 1) / 2
        let base = state
        let start = first
        out.withUnsafeMutableBufferPointer { buf in
            // Chunks write disjoint index ranges of one buffer that outlives the loop.
            nonisolated(unsafe) let dst = buf
            let fill: @Sendable (Range<Int>) -> Void = { range in
                for j in range {
                    let u1 = Self.unit(Self.mix(base &+ UInt64(2 * j + 1) &* Self.increment))
                    let u2 = Self.unit(Self.mix(base &+ UInt64(2 * j + 2) &* Self.increment))
                    let (c, s) = Self.boxMuller(u1, u2)
                    let i = start + 2 * j
                    dst[i] = Float(c)
                    if i + 1 < dst.count { dst[i + 1] = Float(s) }
                }
            }
            let chunk = 16_384
            let chunks = (pairs + chunk - 1) / chunk
            if chunks <= 1 {
                fill(0..<pairs)
            } else {
                DispatchQueue.concurrentPerform(iterations: chunks) { c in fill(c * chunk..<min(pairs, (c + 1) * chunk)) }
            }
        }
        state = base &+ UInt64(2 * pairs) &* Self.increment
        if (count - first) % 2 == 1 {
            // The last pair's second value is what the next call would return.
            let u1 = Self.unit(Self.mix(base &+ UInt64(2 * pairs - 1) &* Self.increment))
            let u2 = Self.unit(Self.mix(base &+ UInt64(2 * pairs) &* Self.increment))
            spare = Self.boxMuller(u1, u2).1
        }
        return out
    }
}
