import Foundation
import IR
import Interpret
import Kernels
import Ops
import Support

/// Adaptive rounding of int8 weights against the calibration data (`--optimize-rounding`),
/// a layer-wise greedy variant of AdaRound (Nagel et al., "Up or Down? Adaptive Rounding for
/// Post-Training Quantization", 2020): every weight may still only be rounded down or up
/// (floor or ceil of w/s, so the scales and the int8 spec do not change), but which one is
/// chosen to minimise the layer's output error on the calibration activations instead of
/// each weight's own error.
///
/// Layers (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED with int8 weights) are optimized in
/// execution order. For each, the int8 model as rounded so far runs on the samples and its
/// (dequantized) input to the layer, x̂, is recorded, as is the float model's input x; the
/// objective of output channel o is the variance over the recorded positions of
///     r_o = Σ_k q_k·s_o·x̂_k − Σ_k w_k·x_k,
/// i.e. the int8 layer's pre-activation output against the float layer's, with the error the
/// earlier layers left in x̂ included (AdaRound's "asymmetric reconstruction"). The mean of
/// r_o goes into the bias afterwards (empirical bias correction with the quantized inputs),
/// which replaces `BiasCorrection`'s E[ΔW]·E[x] estimate for these layers.
///
/// The objective is quadratic in the codes, so one coordinate's flip changes it by
/// 2δ⟨r̃, x̃_k⟩ + δ²‖x̃_k‖² (tildes: centered over the positions); sweeps over the coordinates
/// flip every weight whose change lowers it, until a sweep flips none or `maxSweeps` is
/// reached. Output channels are independent (a weight reads into one output channel), so they
/// run in parallel; each one's arithmetic runs in a fixed order, so the result is the same
/// bytes on every run and machine. The time budget is checked between layers: layers after it
/// keep nearest rounding (the summary then says so, as the output depends on the machine's speed).
package enum AdaptiveRounding {
    package struct Options: Sendable {
        /// Seconds for the whole optimization; layers that would start later keep nearest rounding.
        package var budgetSeconds: Double = 60
        /// Sweeps over a channel's weights at most (each flips every weight that lowers the error).
        package var maxSweeps = 16
        /// Positions (sample × output pixel) per layer at most; more are subsampled evenly.
        package var maxRows = 4096
        package var threads: Int? = nil
        package init() {}
    }

    package typealias Report = PostTrainingQuantization.RoundingSummary

    /// (layer done, layers, label of the next layer or "" when done).
    package typealias Progress = @Sendable (_ done: Int, _ total: Int, _ label: String) -> Void

    package static func optimize(float: Model, quantized: Model, samples: SampleSet, options: Options = Options(),
                                 progress: Progress? = nil) throws -> (Model, Report) {
        let start = Date()
        var model = quantized
        var report = Report()
        let layers = pairLayers(float: float, quantized: model)
        report.layers = layers.count
        let floatInterpreter = try Interpreter(model: float)
        for (n, layer) in layers.enumerated() {
            progress?(n, layers.count, layer.label)
            if Date().timeIntervalSince(start) > options.budgetSeconds {
                report.budgetReached = true
                break
            }
            let g = model.subgraphs[0], gf = float.subgraphs[0]
            let ops = layer.quantizedOps.map { g.ops[$0] }, floatOps = layer.floatOps.map { gf.ops[$0] }
            guard let wID = ops[0].input(1), let w = model.constant(wID), let wq = w.type.quantization, wq.hasScales,
                  let wf = floatOps[0].input(1).flatMap({ float.constant($0) }), wf.shape == w.shape else { continue }
            let inputs = ops.compactMap { $0.input(0) }, floatInputs = floatOps.compactMap { $0.input(0) }
            let inputScales = inputs.compactMap { g[$0].quantization?.scale }
            guard inputs.count == ops.count, floatInputs.count == ops.count, inputScales.count == ops.count else { continue }
            let captured = try capture(Interpreter(model: model), inputs, quantizations: inputs.map { g[$0].quantization }, samples: samples)
            let floatCaptured = try capture(floatInterpreter, floatInputs, quantizations: floatInputs.map { _ in nil }, samples: samples)
            // Every op of a shared weight reads the same shape (an unrolled RNN's steps): their positions are stacked.
            guard let shape = captured.first?.shape, captured.allSatisfy({ $0.shape == shape }), floatCaptured.allSatisfy({ $0.shape == shape }),
                  let geometry = LayerGeometry(op: ops[0], input: shape, samples: samples.count * ops.count, weights: w.shape.map(Int.init))
            else { continue }
            let result = optimizeLayer(geometry, floatWeights: wf.floats, codes: w.scalars(Int8.self), scales: wq.scales,
                                       xq: captured.flatMap(\.values), xf: floatCaptured.flatMap(\.values), sets: ops.count, options: options)
            report.optimizedLayers += 1
            report.flippedWeights += result.flipped
            report.weights += result.codes.count
            report.errorBefore += result.errorBefore
            report.errorAfter += result.errorAfter
            model.setConstant(wID, ConstantTensor(.int8, shape: w.shape, values: result.codes, quantization: wq))
            // Each op's bias takes the float bias minus that op's measured mean output error per channel.
            for (j, op) in ops.enumerated() {
                guard let b = op.input(2), let bias = model.constant(b), bias.type.dtype == .int32, bias.elementCount == geometry.outputChannels else { continue }
                var values = floatOps[j].input(2).flatMap { float.constant($0) }?.floats ?? [Float](repeating: 0, count: geometry.outputChannels)
                guard values.count == geometry.outputChannels else { continue }
                for c in values.indices { values[c] -= result.meanError[j][c] }
                let (t, _) = ConstantQuantizer.bias(values, shape: bias.shape, inputScale: inputScales[j], weightScales: wq.scales)
                model.setConstant(b, t)
            }
        }
        model.removeUnusedBuffers()
        report.seconds = Date().timeIntervalSince(start)
        progress?(layers.count, layers.count, "")
        return (model, report)
    }

    // MARK: Layers

    /// The ops that read one int8 weight tensor (several in an unrolled RNN), with the float ops
    /// they came from.
    package struct LayerPair: Sendable {
        package var floatOps: [Int]
        package var quantizedOps: [Int]
        package var label: String
    }

    /// Weight tensors of ops with int8 weights in the quantized model, in execution order of
    /// their first reader; each op is paired with the float op it came from (same output name
    /// or provenance, same weight shape). A weight read by another kind of op, or a bias shared
    /// between ops, is left alone (changing it would change that op too).
    package static func pairLayers(float: Model, quantized: Model) -> [LayerPair] {
        guard let gf = float.subgraphs.first, let gq = quantized.subgraphs.first else { return [] }
        var floatByName: [String: Int] = [:]
        for (i, op) in gf.ops.enumerated() where !op.isErased && isWeighted(op.kind) {
            if let o = op.outputs.first, !o.isAbsent, floatByName[gf[o].name] == nil { floatByName[gf[o].name] = i }
        }
        var uses: [Int32: Int] = [:]
        for op in gq.ops where !op.isErased { for v in op.inputs where !v.isAbsent { uses[v.raw, default: 0] += 1 } }
        var pairs: [LayerPair] = []
        var byWeight: [Int32: Int] = [:]
        var excluded = Set<Int32>()
        for (i, op) in gq.ops.enumerated() where !op.isErased {
            guard let w = op.input(1), gq[w].dtype == .int8 else { continue }
            guard isWeighted(op.kind), let o = op.outputs.first, !o.isAbsent, let x = op.input(0), gq[x].dtype == .int8,
                  op.input(2).map({ uses[$0.raw] == 1 }) ?? true,
                  let f = floatByName[gq[o].name] ?? gq[o].provenance.flatMap({ floatByName[$0] }),
                  let fw = gf.ops[f].input(1), gf[fw].shape == gq[w].shape,
                  pairs.indices.allSatisfy({ byWeight[w.raw] != $0 || gq.ops[pairs[$0].quantizedOps[0]].kind.name == op.kind.name })
            else { excluded.insert(w.raw); continue }
            if let k = byWeight[w.raw] {
                pairs[k].floatOps.append(f)
                pairs[k].quantizedOps.append(i)
            } else {
                byWeight[w.raw] = pairs.count
                pairs.append(LayerPair(floatOps: [f], quantizedOps: [i], label: op.label(OpID(i))))
            }
        }
        return pairs.enumerated().compactMap { k, p in
            let w = gq.ops[p.quantizedOps[0]].inputs[1]
            guard !excluded.contains(w.raw), uses[w.raw] == p.quantizedOps.count else { return nil }
            var pair = p
            if p.quantizedOps.count > 1 { pair.label += " and \(p.quantizedOps.count - 1) more sharing its weights" }
            return pair
        }
    }

    /// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: the ops whose weights layout the op table
    /// declares as one of the three this geometry computes.
    package static func isWeighted(_ kind: OpKind) -> Bool {
        guard let layout = OperatorTable[kind.builtinOperator]?.weights?.layout else { return false }
        return layout == .ohwi || layout == .oneHWO || layout == .oi
    }

    // MARK: Recording inputs

    /// The real values of each of `values` for every sample, concatenated, and one sample's shape.
    package static func capture(_ interpreter: Interpreter, _ values: [ValueID], quantizations: [Quantization?], samples: SampleSet) throws -> [(values: [Float], shape: [Int])] {
        var out = values.map { _ in (values: [Float](), shape: [Int]()) }
        let slot = Dictionary(values.enumerated().map { ($0.element.raw, $0.offset) }, uniquingKeysWith: { a, _ in a })
        for sample in samples.samples {
            let fed = try feed(sample, interpreter.inputs)
            var seen = [Bool](repeating: false, count: values.count)
            func record(_ id: ValueID, _ t: RuntimeTensor) {
                guard let j = slot[id.raw], !seen[j] else { return }
                seen[j] = true
                out[j].shape = t.shape
                out[j].values += realValues(t, quantizations[j])
            }
            for (k, info) in interpreter.inputs.enumerated() where slot[info.id.raw] != nil { record(info.id, fed[k]) }
            _ = try interpreter.run(fed) { id, t in record(id, t) }
            // A value read twice (two ops on one input) is recorded once: copy it to the other slots.
            for (j, v) in values.enumerated() where !seen[j] {
                guard let first = slot[v.raw], seen[first] else { throw QuantizeError.calibration("adaptive rounding: tensor \(v) was not computed") }
                out[j].shape = out[first].shape
                out[j].values += out[first].values.suffix(out[first].shape.reduce(1, *))
            }
        }
        return out
    }

    /// Float samples for the interpreter's inputs: int8 inputs get them quantized with their
    /// own parameters (round half away from zero, clamped), as firmware would.
    package static func feed(_ sample: [RuntimeTensor], _ inputs: [Interpreter.TensorInfo]) throws -> [RuntimeTensor] {
        try inputs.enumerated().map { k, info in
            guard k < sample.count else { throw QuantizeError.calibration("adaptive rounding: a sample has no tensor for input \(k)") }
            let t = sample[k]
            guard info.dtype == .int8, let f = t.floats, let q = info.quantization, let s = q.scale else { return t }
            let p = AffineParameters(scale: s, zeroPoint: Int32(clamping: q.zeroPoint ?? 0))
            guard let r = RuntimeTensor(shape: info.shape, int8s: f.map { Int8(p.quantize($0)) }) else {
                throw QuantizeError.calibration("adaptive rounding: a sample does not fit input \(k) of shape \(info.shape)")
            }
            return r
        }
    }

    package static func realValues(_ t: RuntimeTensor, _ q: Quantization?) -> [Float] {
        if let f = t.floats { return f }
        guard let i = t.int8s else { return t.doubles.map { Float($0) } }
        let s = q?.scale ?? 1, z = Float(q?.zeroPoint ?? 0)
        return i.map { s * (Float($0) - z) }
    }

    // MARK: Geometry

    /// How a layer's weights read its input: which input values multiply which weight, per
    /// output channel, at each output position.
    package struct LayerGeometry: Sendable {
        package enum Kind: Sendable { case conv(groups: Int), depthwise(multiplier: Int), fullyConnected }
        package var kind: Kind
        package var outputChannels: Int
        /// Input channels one output channel reads (conv: per group; FC: input units; depthwise: 1).
        package var channelsPerGroup: Int
        package var window: WindowGeometry?
        /// Positions per sample (batch × output pixels, or FC rows).
        package var positions: Int
        package var samples: Int
        /// Elements of one sample's input.
        package var inputSize: Int

        package init?(op: Op, input: [Int], samples: Int, weights: [Int]) {
            let size = input.reduce(1, *)
            guard samples > 0, size > 0 else { return nil }
            self.samples = samples
            inputSize = size
            // The weights layout and the window (strides, dilations, padding) come from the op table.
            guard let definition = OperatorTable[op.builtinOperator], let layout = definition.weights?.layout else { return nil }
            func geometry() -> WindowGeometry? {
                guard let a = definition.window?.get(op.kind) else { return nil }
                return try? WindowGeometry(input: input, kH: weights[1], kW: weights[2], strideH: a.strides.h, strideW: a.strides.w,
                                           dilH: a.dilations.h, dilW: a.dilations.w, padding: a.padding)
            }
            switch layout {
            case .ohwi:
                guard weights.count == 4, input.count == 4, weights[3] > 0, input[3] % weights[3] == 0,
                      weights[0] % (input[3] / weights[3]) == 0, let w = geometry() else { return nil }
                kind = .conv(groups: input[3] / weights[3])
                outputChannels = weights[0]
                channelsPerGroup = weights[3]
                window = w
                positions = w.batches * w.outH * w.outW
            case .oneHWO:
                guard weights.count == 4, weights[0] == 1, input.count == 4, input[3] > 0, weights[3] % input[3] == 0,
                      let w = geometry() else { return nil }
                kind = .depthwise(multiplier: weights[3] / input[3])
                outputChannels = weights[3]
                channelsPerGroup = 1
                window = w
                positions = w.batches * w.outH * w.outW
            case .oi:
                guard weights.count == 2, weights[1] > 0, size % weights[1] == 0 else { return nil }
                kind = .fullyConnected
                outputChannels = weights[0]
                channelsPerGroup = weights[1]
                window = nil
                positions = size / weights[1]
            default:
                return nil
            }
            guard positions > 0, outputChannels > 0 else { return nil }
        }

        /// Groups of output channels that read the same input columns.
        package var groupCount: Int {
            switch kind {
            case .conv(let g): g
            case .depthwise(let m): outputChannels / m
            case .fullyConnected: 1
            }
        }
        package var outputsPerGroup: Int { outputChannels / groupCount }
        /// Weights one output channel has.
        package var columns: Int {
            switch kind {
            case .conv: (window?.kH ?? 1) * (window?.kW ?? 1) * channelsPerGroup
            case .depthwise: (window?.kH ?? 1) * (window?.kW ?? 1)
            case .fullyConnected: channelsPerGroup
            }
        }

        /// Index in the weight tensor of column k of output channel o.
        package func weightIndex(output o: Int, column k: Int) -> Int {
            switch kind {
            case .conv, .fullyConnected: o * columns + k  // OHWI / OI: (ky, kx, c) row-major
            case .depthwise: k * outputChannels + o         // 1HWO
            }
        }

        /// Fills `matrix[k·rows + n]` with column k of group `g` at each chosen position
        /// (zero where the window reads padding).
        package func columns(of input: [Float], group g: Int, rows: [Int], into matrix: inout [Float]) {
            let n = rows.count
            switch kind {
            case .fullyConnected:
                let width = channelsPerGroup
                for (r, p) in rows.enumerated() {
                    let base = (p / positions) * inputSize + (p % positions) * width
                    for k in 0..<width { matrix[k * n + r] = input[base + k] }
                }
            case .conv, .depthwise:
                guard let w = window else { return }
                let firstChannel: Int
                let width: Int
                if case .depthwise = kind { (firstChannel, width) = (g, 1) } else { (firstChannel, width) = (g * channelsPerGroup, channelsPerGroup) }
                for (r, p) in rows.enumerated() {
                    let sample = p / positions
                    var rest = p % positions
                    let ox = rest % w.outW; rest /= w.outW
                    let oy = rest % w.outH
                    let batch = rest / w.outH
                    let sampleBase = sample * inputSize + batch * w.inH * w.inW * w.inC
                    for ky in 0..<w.kH {
                        let iy = oy * w.strideH - w.padTop + ky * w.dilH
                        for kx in 0..<w.kW {
                            let ix = ox * w.strideW - w.padLeft + kx * w.dilW
                            let column = (ky * w.kW + kx) * width
                            let inside = iy >= 0 && iy < w.inH && ix >= 0 && ix < w.inW
                            let base = sampleBase + (iy * w.inW + ix) * w.inC + firstChannel
                            for c in 0..<width { matrix[(column + c) * n + r] = inside ? input[base + c] : 0 }
                        }
                    }
                }
            }
        }
    }

    // MARK: Optimization

    package struct LayerResult: Sendable {
        package var codes: [Int8]
        /// Mean output error of each channel after the rounding (real units), for the bias; one
        /// array per op sharing the weights.
        package var meanError: [[Float]]
        package var flipped = 0
        package var errorBefore = 0.0
        package var errorAfter = 0.0
    }

    /// Evenly spaced positions, at most `maxRows` of them.
    package static func chosenRows(total: Int, maxRows: Int) -> [Int] {
        guard total > maxRows, maxRows > 0 else { return Array(0..<total) }
        return (0..<maxRows).map { Int((Double($0) + 0.5) * Double(total) / Double(maxRows)) }
    }

    package static func optimizeLayer(_ geo: LayerGeometry, floatWeights: [Float], codes: [Int8], scales: [Float],
                                      xq: [Float], xf: [Float], sets: Int = 1, options: Options) -> LayerResult {
        let rows = chosenRows(total: geo.samples * geo.positions, maxRows: options.maxRows)
        let n = rows.count, columns = geo.columns
        // Which op (of several sharing the weights) each row belongs to: sets are stacked in order.
        let perSet = max(1, geo.samples * geo.positions / max(sets, 1))
        let rowSet = rows.map { min($0 / perSet, sets - 1) }
        var result = LayerResult(codes: codes, meanError: [[Float]](repeating: [Float](repeating: 0, count: geo.outputChannels), count: sets))
        let perGroup = geo.outputsPerGroup
        let results = ChannelResults(count: geo.outputChannels)
        for g in 0..<geo.groupCount {
            var quantizedColumns = [Float](repeating: 0, count: columns * n)
            var floatColumns = [Float](repeating: 0, count: columns * n)
            geo.columns(of: xq, group: g, rows: rows, into: &quantizedColumns)
            geo.columns(of: xf, group: g, rows: rows, into: &floatColumns)
            // Center the quantized columns: the objective ignores the mean (the bias takes it).
            var means = [Double](repeating: 0, count: columns)
            var norms = [Double](repeating: 0, count: columns)
            var centered = [Double](repeating: 0, count: columns * n)
            for k in 0..<columns {
                var sum = 0.0
                for r in 0..<n { sum += Double(quantizedColumns[k * n + r]) }
                let mean = sum / Double(n)
                var norm = 0.0
                for r in 0..<n {
                    let c = Double(quantizedColumns[k * n + r]) - mean
                    centered[k * n + r] = c
                    norm += c * c
                }
                means[k] = mean
                norms[k] = norm
            }
            let channelsOfGroup = Array((g * perGroup)..<((g + 1) * perGroup))
            let workers = max(1, min(options.threads ?? ProcessInfo.processInfo.activeProcessorCount, channelsOfGroup.count, 8))
            let data = GroupData(quantized: quantizedColumns, float: floatColumns, centered: centered, means: means, norms: norms)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < channelsOfGroup.count {
                    let o = channelsOfGroup[i]
                    let scale = Double(scales.count > 1 ? scales[min(o, scales.count - 1)] : scales.first ?? 1)
                    let indices = (0..<columns).map { geo.weightIndex(output: o, column: $0) }
                    let channel = optimizeChannel(weights: indices.map { floatWeights[$0] }, codes: indices.map { codes[$0] }, scale: scale,
                                                  data: data, rows: n, maxSweeps: options.maxSweeps, rowSet: rowSet, sets: sets)
                    results.set(o, channel)
                    i += workers
                }
            }
        }
        for o in 0..<geo.outputChannels {
            guard let c = results.get(o) else { continue }
            for k in 0..<columns { result.codes[geo.weightIndex(output: o, column: k)] = c.codes[k] }
            for j in 0..<sets { result.meanError[j][o] = Float(c.meanError[j]) }
            result.flipped += c.flipped
            result.errorBefore += c.errorBefore
            result.errorAfter += c.errorAfter
        }
        return result
    }

    package struct GroupData: Sendable {
        /// Column-major [column][row]: the int8 model's inputs, the float model's, and the former centered.
        package var quantized: [Float]
        package var float: [Float]
        package var centered: [Double]
        package var means: [Double]
        package var norms: [Double]
        package init(quantized: [Float], float: [Float], centered: [Double], means: [Double], norms: [Double]) {
            self.quantized = quantized
            self.float = float
            self.centered = centered
            self.means = means
            self.norms = norms
        }
    }

    package struct ChannelResult: Sendable {
        package var codes: [Int8]
        /// Per op sharing the weights.
        package var meanError: [Double]
        package var flipped: Int
        package var errorBefore: Double
        package var errorAfter: Double
    }

    package final class ChannelResults: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [ChannelResult?]
        package init(count: Int) { results = Array(repeating: nil, count: count) }
        package func set(_ i: Int, _ r: ChannelResult) { lock.lock(); results[i] = r; lock.unlock() }
        package func get(_ i: Int) -> ChannelResult? { lock.lock(); defer { lock.unlock() }; return results[i] }
    }

    /// Greedy coordinate descent on one output channel's codes; each code stays floor or ceil of w/s.
    package static func optimizeChannel(weights: [Float], codes start: [Int8], scale: Double, data: GroupData, rows n: Int, maxSweeps: Int,
                                        rowSet: [Int]? = nil, sets: Int = 1) -> ChannelResult {
        let columns = weights.count
        var codes = start
        // r = int8 layer output − float layer output at each position.
        var residual = [Double](repeating: 0, count: n)
        for k in 0..<columns {
            let q = Double(codes[k]) * scale, w = Double(weights[k])
            guard q != 0 || w != 0 else { continue }
            for r in 0..<n { residual[r] += q * Double(data.quantized[k * n + r]) - w * Double(data.float[k * n + r]) }
        }
        var mean = residual.reduce(0, +) / Double(max(n, 1))
        for r in 0..<n { residual[r] -= mean }
        let before = residual.reduce(0) { $0 + $1 * $1 }
        var error = before
        var flipped = 0
        guard scale > 0, scale.isFinite, n > 0 else {
            return ChannelResult(codes: codes, meanError: setMeans(residual, mean, rowSet, sets), flipped: 0, errorBefore: before, errorAfter: before)
        }
        // Few positions for many weights (a FULLY_CONNECTED layer sees one row per sample) let
        // the sweeps fit the calibration set's accidental correlations, which held-out data
        // does not share. The objective's input covariance is therefore shrunk towards its
        // diagonal (Ledoit–Wolf style) by α = K / (K + n): with n ≫ K it is the measured one,
        // with n ≪ K nearly nearest rounding. On the diagonal part a flip of weight k by δ
        // changes the error by (2·d_k·δ + δ²)·ν_k, d_k = q_k·s − w_k.
        let shrink = Double(columns) / Double(columns + n)
        var offset = (0..<columns).map { Double(codes[$0]) * scale - Double(weights[$0]) }
        for _ in 0..<maxSweeps {
            var flips = 0
            for k in 0..<columns where data.norms[k] > 0 {
                let u = Double(weights[k]) / scale
                guard u.isFinite else { continue }
                let down = min(max(u.rounded(.down), -127), 127), up = min(max(u.rounded(.up), -127), 127)
                let current = Double(codes[k])
                let other = current == down ? up : down
                guard other != current, other == down || other == up else { continue }
                let delta = (other - current) * scale
                var dot = 0.0
                let base = k * n
                for r in 0..<n { dot += residual[r] * data.centered[base + r] }
                let change = 2 * delta * ((1 - shrink) * dot + shrink * offset[k] * data.norms[k]) + delta * delta * data.norms[k]
                // Only clear improvements: ties keep the current code, so results do not hinge on the last bit.
                guard change < -1e-12 * max(error, 1e-30) else { continue }
                for r in 0..<n { residual[r] += delta * data.centered[base + r] }
                mean += delta * data.means[k]
                offset[k] += delta
                error += change
                codes[k] = Int8(other)
                flips += 1
            }
            flipped += flips
            if flips == 0 { break }
        }
        // Recompute the error exactly (the running sum drifts by rounding).
        let after = residual.reduce(0) { $0 + $1 * $1 }
        var net = 0
        for k in 0..<columns where codes[k] != start[k] { net += 1 }
        return ChannelResult(codes: codes, meanError: setMeans(residual, mean, rowSet, sets), flipped: net, errorBefore: before, errorAfter: after)
    }

    /// The mean of the (uncentered) residual over each set's rows.
    package static func setMeans(_ centered: [Double], _ mean: Double, _ rowSet: [Int]?, _ sets: Int) -> [Double] {
        guard let rowSet, sets > 1 else { return [mean] }
        var sum = [Double](repeating: 0, count: sets), count = [Int](repeating: 0, count: sets)
        for (r, j) in rowSet.enumerated() where r < centered.count {
            sum[j] += centered[r] + mean
            count[j] += 1
        }
        return (0..<sets).map { count[$0] > 0 ? sum[$0] / Double(count[$0]) : mean }
    }
}

extension PostTrainingQuantization.RoundingSummary {
    /// "adaptive rounding: 4 of 4 layers, 812 of 16000 weights rounded the other way, layer output error −31.0 % (0.42 s)".
    public func lines() -> [String] {
        var text = "adaptive rounding: \(optimizedLayers) of \(layers) layer\(layers == 1 ? "" : "s"), \(flippedWeights) of \(weights) weights rounded the other way"
        if errorBefore > 0 {
            text += String(format: ", layer output error %+.1f %%", (errorAfter / errorBefore - 1) * 100)
        }
        text += String(format: " (%.2f s)", seconds)
        var out = [text]
        if budgetReached {
            out.append("warning: the rounding budget ran out after \(optimizedLayers) of \(layers) layers; the rest keep nearest rounding, and the output now depends on this machine's speed (raise --rounding-budget)")
        }
        return out
    }
}
