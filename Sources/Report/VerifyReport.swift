import Driver
import Export
import FlatBuffers
import IR
import Import
import Interpret
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Rules
import Support

/// Runs two models on the same inputs in tfrewrite's interpreter and measures how far B's
/// outputs (and, with `layers`, its intermediate tensors) are from A's: max and mean absolute
/// error of the real values (int8 tensors dequantized) and, for outputs, how often the argmax
/// over the last axis agrees. Typical use: A = the float model, B = its int8 version.
///
/// Inputs are given as real (float) samples; a model with int8 inputs gets them quantized with
/// its own input scale and zero point (round half away from zero, clamped), as a user feeding
/// the firmware would. Int8 samples feed int8 inputs directly, and reach a float input
/// dequantized with the other model's input parameters.
///
/// Layers pair by provenance (the TF node or op a tensor came from), then by tensor name, then
/// by the parts of TF's fused names ("a;b;c"); a pair needs the same element count.
public struct VerifyReport: Sendable {
    public struct Stats: Sendable, Hashable {
        public var maxAbsError: Double = 0
        public var sumAbsError: Double = 0
        public var elements: Int = 0
        /// Rows (over the last axis) whose argmax agrees; nil when the last axis has one element.
        public var argmaxAgree: Int?
        public var argmaxRows: Int?
        /// Largest |A| seen, to put the errors in proportion.
        public var maxAbsReference: Double = 0

        public var meanAbsError: Double { elements > 0 ? sumAbsError / Double(elements) : 0 }
        public var argmaxAgreement: Double? {
            guard let a = argmaxAgree, let n = argmaxRows, n > 0 else { return nil }
            return Double(a) / Double(n)
        }
    }

    public struct Output: Sendable {
        public var index: Int
        public var nameA: String
        public var nameB: String
        public var stats: Stats
    }

    public struct Layer: Sendable {
        /// The key that paired them (provenance or name).
        public var key: String
        public var nameA: String
        public var nameB: String
        public var typeB: String
        /// B's scale when quantized per tensor: the error in quanta is error / scale.
        public var scaleB: Float?
        public var stats: Stats
    }

    public var samples: Int
    public var inputSource: String
    public var randomInputs: Bool
    public var outputs: [Output]
    public var layers: [Layer]?
    /// Layers of A with no partner in B.
    public var unpairedLayers: Int = 0
    public var notes: [String] = []

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case mismatch(String)
        case input(String)
        public var description: String {
            switch self {
            case .mismatch(let m): "the models cannot be compared: \(m)"
            case .input(let m): m
            }
        }
    }

    /// Compares `b` against `a` on `samples` (shaped for `a`'s inputs, see `SampleData`).
    public static func compare(_ a: Model, _ b: Model, samples: SampleSet, layers: Bool) throws -> VerifyReport {
        let ia = try Interpreter(model: a)
        let ib = try Interpreter(model: b)
        guard ia.inputs.count == ib.inputs.count else {
            throw Failure.mismatch("A has \(ia.inputs.count) input(s), B has \(ib.inputs.count)")
        }
        guard ia.outputs.count == ib.outputs.count else {
            throw Failure.mismatch("A has \(ia.outputs.count) output(s), B has \(ib.outputs.count)")
        }
        for (k, (x, y)) in zip(ia.inputs, ib.inputs).enumerated() where x.shape.reduce(1, *) != y.shape.reduce(1, *) {
            throw Failure.mismatch("input \(k): A is \(x.shape), B is \(y.shape)")
        }
        for (k, (x, y)) in zip(ia.outputs, ib.outputs).enumerated() where x.shape.reduce(1, *) != y.shape.reduce(1, *) {
            throw Failure.mismatch("output \(k): A is \(x.shape), B is \(y.shape)")
        }
        var outputs = (0..<ia.outputs.count).map { Output(index: $0, nameA: ia.outputs[$0].name, nameB: ib.outputs[$0].name, stats: Stats()) }
        let pairs = layers ? pairLayers(a, b) : []
        var layerStats = pairs.map { _ in Stats() }
        let pairedA = Dictionary(pairs.enumerated().map { ($0.element.a.raw, $0.offset) }, uniquingKeysWith: { x, _ in x })
        let pairedB = Dictionary(pairs.enumerated().map { ($0.element.b.raw, $0.offset) }, uniquingKeysWith: { x, _ in x })
        let ga = a.subgraphs[0], gb = b.subgraphs[0]

        for (s, sample) in samples.samples.enumerated() {
            let xa = try feed(sample, to: ia.inputs, other: ib.inputs, sample: s)
            let xb = try feed(sample, to: ib.inputs, other: ia.inputs, sample: s)
            var seenA: [Int: [Double]] = [:]
            let ya: [RuntimeTensor]
            let yb: [RuntimeTensor]
            if layers {
                ya = try ia.run(xa) { id, t in
                    if let p = pairedA[id.raw] { seenA[p] = realValues(t, ga[id].quantization) }
                }
                yb = try ib.run(xb) { id, t in
                    guard let p = pairedB[id.raw], let ref = seenA[p] else { return }
                    accumulate(&layerStats[p], ref, realValues(t, gb[id].quantization), lastAxis: nil)
                }
            } else {
                ya = try ia.run(xa)
                yb = try ib.run(xb)
            }
            for k in outputs.indices {
                let ra = realValues(ya[k], ia.outputs[k].quantization)
                let rb = realValues(yb[k], ib.outputs[k].quantization)
                accumulate(&outputs[k].stats, ra, rb, lastAxis: ya[k].shape.last)
            }
        }
        var report = VerifyReport(samples: samples.count, inputSource: samples.source, randomInputs: samples.isRandom, outputs: outputs, layers: nil)
        if layers {
            report.layers = pairs.enumerated().map { i, p in
                let vb = gb[p.b]
                return Layer(key: p.key, nameA: ga[p.a].name, nameB: vb.name, typeB: IRPrinter.typeText(vb),
                             scaleB: vb.quantization?.scale, stats: layerStats[i])
            }
            report.unpairedLayers = opOutputs(ga).count - pairs.count
        }
        return report
    }

    // MARK: Inputs

    /// Sample `sample` shaped and typed for one model's inputs.
    package static func feed(_ given: [RuntimeTensor], to inputs: [Interpreter.TensorInfo], other: [Interpreter.TensorInfo], sample: Int) throws -> [RuntimeTensor] {
        guard given.count == inputs.count else {
            throw Failure.input("sample \(sample) has \(given.count) tensor(s) for \(inputs.count) input(s)")
        }
        return try inputs.enumerated().map { k, info in
            let t = given[k]
            func fail(_ m: String) -> Failure { .input("input \(k) (\(info.name)), sample \(sample): \(m)") }
            switch (t.dtype, info.dtype) {
            case (.float32, .float32):
                guard let r = RuntimeTensor(shape: info.shape, storage: t.storage) else { throw fail("\(t.elementCount) values for shape \(info.shape)") }
                return r
            case (.float32, .int8), (.float32, .int16), (.float32, .uint8):
                guard let q = info.quantization, let s = q.scale, s > 0 else { throw fail("\(info.dtype.name) input without a per-tensor scale") }
                let p = AffineParameters(scale: s, zeroPoint: Int32(clamping: q.zeroPoint ?? 0))
                let f = t.floats ?? []
                let storage: RuntimeTensor.Storage
                switch info.dtype {
                case .int8: storage = .int8(f.map { Int8(p.quantize($0, qmin: -128, qmax: 127)) })
                case .int16: storage = .int16(f.map { Int16(p.quantize($0, qmin: -32768, qmax: 32767)) })
                default: storage = .uint8(f.map { UInt8(p.quantize($0, qmin: 0, qmax: 255)) })
                }
                guard let r = RuntimeTensor(shape: info.shape, storage: storage) else { throw fail("\(t.elementCount) values for shape \(info.shape)") }
                return r
            case (.int8, .float32):
                guard k < other.count, let q = other[k].quantization, let s = q.scale else {
                    throw fail("int8 samples need the other model's int8 input parameters to feed a float input")
                }
                let zp = Float(q.zeroPoint ?? 0)
                guard let r = RuntimeTensor(shape: info.shape, floats: (t.int8s ?? []).map { s * (Float($0) - zp) }) else {
                    throw fail("\(t.elementCount) values for shape \(info.shape)")
                }
                return r
            default:
                guard t.dtype == info.dtype, let r = RuntimeTensor(shape: info.shape, storage: t.storage) else {
                    throw fail("cannot feed \(t.typeDescription) to a \(info.dtype.name) input of shape \(info.shape)")
                }
                return r
            }
        }
    }

    /// Real values of a tensor: quantized integers dequantized (per tensor or per channel),
    /// others as they are.
    package static func realValues(_ t: RuntimeTensor, _ q: Quantization?) -> [Double] {
        let raw = t.doubles
        guard t.dtype != .float32, let q, q.hasScales else { return raw }
        if q.scales.count == 1 {
            let s = Double(q.scales[0]), z = Double(q.zeroPoints.first ?? 0)
            return raw.map { ($0 - z) * s }
        }
        let axis = Int(q.axis)
        guard axis >= 0, axis < t.shape.count, t.shape[axis] == q.scales.count else { return raw }
        let inner = t.shape[(axis + 1)...].reduce(1, *)
        let n = q.scales.count
        return raw.enumerated().map { i, v in
            let c = (i / inner) % n
            return (v - Double(c < q.zeroPoints.count ? q.zeroPoints[c] : 0)) * Double(q.scales[c])
        }
    }

    package static func accumulate(_ s: inout Stats, _ a: [Double], _ b: [Double], lastAxis: Int?) {
        let n = min(a.count, b.count)
        for i in 0..<n {
            let e = abs(a[i] - b[i])
            if e > s.maxAbsError || e.isNaN { s.maxAbsError = e.isNaN ? .infinity : e }
            s.sumAbsError += e.isFinite ? e : 0
            let r = abs(a[i])
            if r > s.maxAbsReference { s.maxAbsReference = r }
        }
        s.elements += n
        if let last = lastAxis, last > 1, n % last == 0 {
            var agree = 0
            for row in 0..<(n / last) {
                let base = row * last
                if argmax(a, base, last) == argmax(b, base, last) { agree += 1 }
            }
            s.argmaxAgree = (s.argmaxAgree ?? 0) + agree
            s.argmaxRows = (s.argmaxRows ?? 0) + n / last
        }
    }

    package static func argmax(_ x: [Double], _ base: Int, _ n: Int) -> Int {
        var best = 0
        for i in 1..<n where x[base + i] > x[base + best] { best = i }
        return best
    }

    // MARK: Layer pairing

    package struct Pair {
        package var a: ValueID
        package var b: ValueID
        package var key: String
    }

    /// Op outputs of a graph in execution order.
    package static func opOutputs(_ g: Graph) -> [ValueID] {
        var out: [ValueID] = []
        var seen = Set<Int32>()
        for op in g.ops where !op.isErased {
            for v in op.outputs where !v.isAbsent && v.index < g.values.count && seen.insert(v.raw).inserted { out.append(v) }
        }
        return out
    }

    /// Keys a value can be paired by, strongest first.
    package static func keys(_ v: Value) -> [String] {
        var k: [String] = []
        if let p = v.provenance, !p.isEmpty { k.append(p) }
        if !v.name.isEmpty { k.append(v.name) }
        if v.name.contains(";") { k += v.name.split(separator: ";").map(String.init) }
        var seen = Set<String>()
        return k.filter { seen.insert($0).inserted }
    }

    package static func pairLayers(_ a: Model, _ b: Model) -> [Pair] {
        let ga = a.subgraphs[0], gb = b.subgraphs[0]
        let outsB = opOutputs(gb)
        var index: [String: [ValueID]] = [:]
        for v in outsB {
            for k in keys(gb[v]) { index[k, default: []].append(v) }
        }
        var used = Set<Int32>()
        var pairs: [Pair] = []
        for v in opOutputs(ga) {
            let va = ga[v]
            guard let n = va.elementCount else { continue }
            for k in keys(va) {
                let candidates = (index[k] ?? []).filter { !used.contains($0.raw) && gb[$0].elementCount == n }
                guard !candidates.isEmpty else { continue }
                // Among equals prefer the tensor with the same name, then one of the same dtype.
                let chosen = candidates.first { gb[$0].name == va.name }
                    ?? candidates.first { gb[$0].dtype != .float32 || va.dtype == .float32 }
                    ?? candidates[0]
                used.insert(chosen.raw)
                pairs.append(Pair(a: v, b: chosen, key: k))
                break
            }
        }
        return pairs
    }

    // MARK: Rendering

    public func text(nameA: String, nameB: String) -> String {
        var out = "verify: \(nameB) against \(nameA)\n"
        out += "inputs: \(inputSource)"
        if randomInputs { out += " -- random data: pass --inputs with real samples for meaningful numbers" }
        out += "\n"
        for o in outputs {
            let name = o.nameA == o.nameB ? "\"\(o.nameA)\"" : "\"\(o.nameA)\" / \"\(o.nameB)\""
            var line = "output \(o.index) \(name): max abs error \(Self.number(o.stats.maxAbsError)), mean abs error \(Self.number(o.stats.meanAbsError))"
            if let agree = o.stats.argmaxAgree, let rows = o.stats.argmaxRows {
                line += ", argmax agreement \(agree)/\(rows) (\(Self.percent(Double(agree) / Double(max(rows, 1)))))"
            }
            out += line + "\n"
        }
        if let layers {
            out += "layers: \(layers.count) paired" + (unpairedLayers > 0 ? ", \(unpairedLayers) of A's tensors without a partner in B" : "") + "\n"
            let width = min(60, layers.map { $0.key.count }.max() ?? 0)
            for l in layers {
                var key = l.key
                if key.count > width { key = String(key.prefix(width - 1)) + "…" }
                key += String(repeating: " ", count: max(0, width - key.count))
                var line = "  \(key)  max \(Self.number(l.stats.maxAbsError))  mean \(Self.number(l.stats.meanAbsError))"
                if let s = l.scaleB, s > 0 {
                    line += "  (\(Self.number(l.stats.maxAbsError / Double(s))) quanta max)"
                }
                out += line + "\n"
            }
        }
        for n in notes { out += "note: \(n)\n" }
        return out
    }

    public func json(nameA: String, nameB: String) -> JSON {
        func stats(_ s: Stats) -> [(String, JSON)] {
            var f: [(String, JSON)] = [
                ("max_abs_error", .double(s.maxAbsError)),
                ("mean_abs_error", .double(s.meanAbsError)),
                ("max_abs_reference", .double(s.maxAbsReference)),
            ]
            if let a = s.argmaxAgree, let r = s.argmaxRows {
                f.append(("argmax_agree", .int(Int64(a))))
                f.append(("argmax_rows", .int(Int64(r))))
            }
            return f
        }
        var fields: [(String, JSON)] = [
            ("model_a", .string(nameA)),
            ("model_b", .string(nameB)),
            ("inputs", .object([("source", .string(inputSource)), ("samples", .int(Int64(samples))), ("random", .bool(randomInputs))])),
            ("outputs", .array(outputs.map { o in
                .object([("index", .int(Int64(o.index))), ("name_a", .string(o.nameA)), ("name_b", .string(o.nameB))] + stats(o.stats))
            })),
        ]
        if let layers {
            fields.append(("layers", .array(layers.map { l in
                var f: [(String, JSON)] = [("key", .string(l.key)), ("name_a", .string(l.nameA)), ("name_b", .string(l.nameB)), ("type_b", .string(l.typeB))]
                if let s = l.scaleB { f.append(("scale_b", .float(s))) }
                return .object(f + stats(l.stats))
            })))
            fields.append(("unpaired_layers", .int(Int64(unpairedLayers))))
        }
        if !notes.isEmpty { fields.append(("notes", .array(notes.map(JSON.string)))) }
        return .object(fields)
    }

    package static func number(_ x: Double) -> String {
        if !x.isFinite { return x.isNaN ? "nan" : "inf" }
        if x == 0 { return "0" }
        let f = Float(x)
        if abs(x) >= 1e-3 && abs(x) < 1e4 {
            let r = (x * 1e6).rounded() / 1e6
            return String(r)
        }
        return f.description
    }

    package static func percent(_ x: Double) -> String {
        let r = (x * 1000).rounded() / 10
        return "\(r)%"
    }
}
