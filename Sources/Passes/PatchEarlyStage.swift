import IR
import Memory
import Ops
import Rewrite

/// Runs the early stage of a CNN patch by patch (MCUNetV2's patch-based inference) when that
/// needs a smaller TFLM tensor arena (`--optimize memory`, issue 14). The first layers of a
/// CNN hold the largest feature maps, so their input and output set the arena; computed for one
/// spatial patch of the stage's output at a time, only a patch's maps are alive, plus the
/// stage's input and the finished part of its output.
///
/// Given (the stage: a chain of convolutions and poolings from a graph input, each value read
/// once):
///
///     input %x: i8[1,96,96,1]
///     #0 CONV_2D {SAME, stride 2} (%x, %w0, %b0) -> %a: i8[1,48,48,16]
///     #1 DEPTHWISE_CONV_2D {SAME, stride 2} (%a, %w1, %b1) -> %y: i8[1,24,24,16]
///
/// Result (2×1 patches; each patch slices the input region its outputs need, the halo
/// included, pads with zeros only where that region leaves the image, and runs VALID
/// convolutions):
///
///     #0 SLICE (%x, [0,0,0,0], [1,51,96,1]) -> %x_0: i8[1,51,96,1]
///     #1 PAD (%x_0, [[0,0],[0,0],[0,1],[0,0]]) -> i8[1,51,97,1]
///     #2 CONV_2D {VALID, stride 2} (…, %w0, %b0) -> %a_0: i8[1,25,48,16]
///     #3 PAD (%a_0, [[0,0],[0,0],[0,1],[0,0]]) -> i8[1,25,49,16]
///     #4 DEPTHWISE_CONV_2D {VALID, stride 2} (…, %w1, %b1) -> %y_0: i8[1,12,24,16]
///     #5 SLICE (%x, [0,45,0,0], [1,51,96,1]) -> %x_1 …  #9 … -> %y_1: i8[1,12,24,16]
///     #10 CONCATENATION {axis 1} (%y_0, %y_1) -> %y
///
/// Every output value is computed from the same input values, weights and quantization as
/// before, in the same accumulation order: TFLM's convolutions skip taps outside the image
/// (kernels/internal/reference/conv.h, depthwise_conv.h), which adds the same as multiplying
/// the zero point PAD writes (kernels/pad_common.cc pads int8 with the output zero point, float
/// with 0). So outputs are bit-identical. Poolings exclude padded taps from their count and
/// maximum, so a pooling joins a stage only where no patch needs padding. Patches overlap by
/// the receptive field's halo, which is computed again: the note reports the stage's
/// multiply-accumulates before and after.
///
/// The stage end (up to 12 layers; the search stops two ends after the last that helped) and
/// the patch grid (up to 4×4) are chosen by replaying TFLM's allocation (`ArenaReport`) for
/// every candidate; the model changes only when one needs strictly less (a
/// smaller minimum arena_size, or the same and a smaller total). Part of `optimize-memory`;
/// also a pass of its own (`pointer_bits`: 32, default, or 64).
public struct PatchEarlyStage: GraphPass {
    public static let name = "patch-early-stage"
    public static let summary = "run a CNN's first layers patch by patch (overlapping spatial patches) when TFLM's arena gets smaller; outputs unchanged"

    /// Patch rows and columns tried, each at most this many.
    public static let maximumGrid = 4
    /// Layers a stage has at most (MCUNetV2's stages end within the first few blocks).
    public static let maximumStageLayers = 12

    public var build: TFLMBuild

    public init(build: TFLMBuild = .standard(.bits32)) {
        self.build = build
    }

    public init(options: PassOptions) throws {
        self.init(build: try options.tflmBuild(pass: Self.name))
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var compacted = model
        if compacted.subgraphs.first?.ops.contains(where: \.isErased) == true {
            guard compacted.subgraphs[0].compact() else { return false }
        }
        guard let baseline = try? ArenaReport.analyze(compacted, build: build),
            let found = Self.best(compacted, build: build, baseline: baseline)
        else { return false }
        model = found.model
        context.notes.append(found.note(Self.name, baseline: baseline))
        return true
    }

    /// A rewritten model and what it needs.
    public struct Found {
        public var model: Model
        public var report: ArenaReport
        public var stageOps: [String]
        public var firstOp: Int
        public var rows: Int
        public var columns: Int
        public var stageMACs: Int
        public var patchedMACs: Int

        public func note(_ pass: String, baseline: ArenaReport) -> String {
            let extra = stageMACs > 0 ? Double(patchedMACs - stageMACs) / Double(stageMACs) * 100 : 0
            return "note: \(pass): ops #\(firstOp)–#\(firstOp + stageOps.count - 1) (\(stageOps.joined(separator: ", "))) run in \(rows)×\(columns) patches: "
                + "TFLM arena (\(report.pointerWidth.rawValue)-bit): head \(baseline.headBytes) → \(report.headBytes), total \(baseline.totalBytes) → \(report.totalBytes), "
                + "minimum arena_size \(baseline.minArenaBytes) → \(report.minArenaBytes) bytes; stage MACs \(stageMACs) → \(patchedMACs) (+\(String(format: "%.1f", extra))% for the halos)"
        }
    }

    /// The candidate (stage end, patch grid) that needs the smallest arena, if it needs strictly
    /// less than `baseline` (the model's own figures). Main subgraph only; models with several
    /// subgraphs or an op the replay cannot size are left alone.
    public static func best(_ model: Model, build: TFLMBuild, baseline: ArenaReport) -> Found? {
        guard model.subgraphs.count == 1 else { return nil }
        var best: Found?
        for chain in StageChain.chains(in: model.subgraphs[0]) {
            // Once a stage end has helped, longer stages that keep not helping end the search
            // (each candidate is a full replay).
            var endsWithoutGain: Int?
            for end in chain.layers.indices.prefix(maximumStageLayers) {
                if let n = endsWithoutGain, n >= 2 { break }
                endsWithoutGain = endsWithoutGain.map { $0 + 1 }
                let stage = Array(chain.layers[...end])
                let last = stage[end]
                for rows in 1...min(maximumGrid, last.outHeight) {
                    for columns in 1...min(maximumGrid, last.outWidth) where rows * columns > 1 {
                        guard let built = StageChain.patched(model, stage: stage, rows: rows, columns: columns),
                            let report = try? ArenaReport.analyze(built.model, build: build)
                        else { continue }
                        let bar = best.map { ($0.report.minArenaBytes, $0.report.totalBytes) } ?? (baseline.minArenaBytes, baseline.totalBytes)
                        guard (report.minArenaBytes, report.totalBytes) < bar else { continue }
                        endsWithoutGain = 0
                        best = Found(
                            model: built.model, report: report, stageOps: stage.map { model.subgraphs[0].ops[$0.op].name },
                            firstOp: stage.map(\.op).min() ?? 0, rows: rows, columns: columns,
                            stageMACs: stage.reduce(0) { $0 + $1.macs(outHeight: $1.outHeight, outWidth: $1.outWidth) }, patchedMACs: built.macs)
                    }
                }
            }
        }
        return best
    }
}

extension PassOptions {
    /// The TFLM build the memory passes size for: option `pointer_bits`, 32 (default) or 64.
    func tflmBuild(pass: String) throws -> TFLMBuild {
        let bits = try int("pointer_bits", default: 32) ?? 32
        guard let width = PointerWidth(rawValue: bits) else {
            throw PassError.badOption(pass: pass, option: "pointer_bits", message: "expected 32 or 64, got \(bits)", location: location)
        }
        return .standard(width)
    }
}

/// One layer of a patchable stage: a convolution or pooling over NHWC maps of batch 1.
struct StageLayer {
    enum Kind { case conv, depthwise, pool }
    var op: Int
    var kind: Kind
    var input: ValueID
    var output: ValueID
    var height: StageAxis
    var width: StageAxis
    var outHeight: Int
    var outWidth: Int
    var inChannels: Int
    var outChannels: Int

    /// Multiply-accumulates (convolutions) or window reads (pooling) for an output of this size.
    func macs(outHeight: Int, outWidth: Int) -> Int {
        let perOutput = height.kernel * width.kernel * (kind == .conv ? inChannels : 1)
        return outHeight * outWidth * outChannels * perOutput
    }
}

/// One spatial axis of a layer: which input positions an output range reads.
struct StageAxis {
    var kernel: Int
    var stride: Int
    var dilation: Int
    var inSize: Int
    /// Implicit zero rows or columns before the first input one (TFLM's
    /// ComputePaddingHeightWidth, kernels/padding.h: half the total SAME padding, rounded down).
    var padBefore: Int

    init(kernel: Int, stride: Int, dilation: Int, inSize: Int, outSize: Int, same: Bool) {
        self.kernel = kernel
        self.stride = stride
        self.dilation = dilation
        self.inSize = inSize
        let effective = (kernel - 1) * dilation + 1
        padBefore = same ? max((outSize - 1) * stride + effective - inSize, 0) / 2 : 0
    }

    /// The input positions outputs `out` read, clipped to the input, and the padding the clipped
    /// range needs on each side so that a VALID window yields exactly `out`.
    func needed(_ out: Range<Int>) -> (range: Range<Int>, before: Int, after: Int) {
        let first = out.lowerBound * stride - padBefore
        let end = (out.upperBound - 1) * stride - padBefore + (kernel - 1) * dilation + 1
        return (max(first, 0) ..< min(end, inSize), max(0, -first), max(0, end - inSize))
    }
}

/// Chains of layers from a graph input and the rewrite of a chain's prefix into patches.
struct StageChain {
    var layers: [StageLayer]

    /// From each graph input: the longest run of convolutions and poolings in which each
    /// layer reads the previous one's output, and that output is read by nothing else.
    static func chains(in graph: Graph) -> [StageChain] {
        let uses = graph.useCounts()
        var result: [StageChain] = []
        for input in graph.inputs {
            var layers: [StageLayer] = []
            var value = input
            while let next = graph.uses(of: value).first(where: { $0.operand == 0 }), let layer = layer(graph, next.op.index), layer.input == value {
                // The stage's inner values are replaced, so nothing else may read them.
                if !layers.isEmpty && (uses[value.index] != 1 || graph.isGraphOutput(value)) { break }
                layers.append(layer)
                value = layer.output
            }
            if !layers.isEmpty { result.append(StageChain(layers: layers)) }
        }
        return result
    }

    /// The op as a stage layer, nil for other ops or maps that are not static NHWC of batch 1.
    static func layer(_ graph: Graph, _ index: Int) -> StageLayer? {
        let op = graph.ops[index]
        guard !op.isErased, op.outputs.count == 1, let x = op.input(0), !graph[x].isDynamic, !graph[op.outputs[0]].isDynamic else { return nil }
        let xs = graph[x].shape.map(Int.init), ys = graph[op.outputs[0]].shape.map(Int.init)
        guard xs.count == 4, ys.count == 4, xs[0] == 1, ys[0] == 1, xs.allSatisfy({ $0 > 0 }), ys.allSatisfy({ $0 > 0 }) else { return nil }
        func layer(_ kind: StageLayer.Kind, _ kh: Int32, _ kw: Int32, _ sh: Int32, _ sw: Int32, _ dh: Int32, _ dw: Int32, _ padding: Padding) -> StageLayer? {
            guard kh > 0, kw > 0, sh > 0, sw > 0, dh > 0, dw > 0 else { return nil }
            let same = padding == .same
            return StageLayer(
                op: index, kind: kind, input: x, output: op.outputs[0],
                height: StageAxis(kernel: Int(kh), stride: Int(sh), dilation: Int(dh), inSize: xs[1], outSize: ys[1], same: same),
                width: StageAxis(kernel: Int(kw), stride: Int(sw), dilation: Int(dw), inSize: xs[2], outSize: ys[2], same: same),
                outHeight: ys[1], outWidth: ys[2], inChannels: xs[3], outChannels: ys[3])
        }
        // Filters: CONV_2D [O,H,W,I], DEPTHWISE_CONV_2D [1,H,W,O] (schema.fbs); constant, so
        // every patch's copy reads the same weights.
        func filter() -> [Int32]? {
            guard let w = op.input(1), graph[w].buffer != .none, graph[w].shape.count == 4 else { return nil }
            return graph[w].shape
        }
        // The window (strides, dilations, padding; a pool's size) comes from the op table.
        guard let window = OperatorTable[op.builtinOperator]?.window?.get(op.kind) else { return nil }
        let (s, d) = (window.strides, window.dilations)
        func sized(_ kind: StageLayer.Kind, _ kh: Int, _ kw: Int) -> StageLayer? {
            layer(kind, Int32(kh), Int32(kw), Int32(s.h), Int32(s.w), Int32(d.h), Int32(d.w), window.padding)
        }
        if let pool = window.filter { return sized(.pool, pool.h, pool.w) }
        guard let f = filter() else { return nil }
        if op.builtinOperator == .depthwiseConv2D { return sized(.depthwise, Int(f[1]), Int(f[2])) }
        // Not grouped, and an int32 bias (no quantized_bias_type).
        guard op.builtinOperator == .conv2D, OperatorTable[.conv2D]?.weights?.rescalable(op.kind) ?? false, Int(f[3]) == xs[3] else { return nil }
        return sized(.conv, Int(f[1]), Int(f[2]))
    }

    /// `model` with `stage` (a chain prefix) run in `rows`×`columns` patches of its last output,
    /// and the stage's multiply-accumulates after the rewrite; nil when a pooling would need
    /// padding or the values cannot be renumbered.
    static func patched(_ model: Model, stage: [StageLayer], rows: Int, columns: Int) -> (model: Model, macs: Int)? {
        var m = model
        let original = model.subgraphs[0]
        let last = stage[stage.count - 1]
        let rowBounds = (0...rows).map { $0 * last.outHeight / rows }
        let columnBounds = (0...columns).map { $0 * last.outWidth / columns }
        var newOps: [Op] = []
        var macs = 0
        func add(_ op: Op) {
            var op = op
            op.version = OpVersions.minimum(op, in: m.subgraphs[0], model: m)?.version ?? 1
            newOps.append(op)
        }
        func value(like id: ValueID, shape: [Int], suffix: String) -> ValueID {
            var v = original[id]
            v.name += suffix
            v.shape = shape.map(Int32.init)
            v.shapeSignature = nil
            v.buffer = .none
            return m.subgraphs[0].addValue(v)
        }
        func int32Constant(_ values: [Int], shape: [Int32], name: String) -> ValueID {
            m.addConstant(ConstantTensor(.int32, shape: shape, values: values.map(Int32.init)), name: name)
        }
        let stageInput = stage[0].input
        var rowResults: [ValueID] = []
        for r in 0..<rows {
            var patchResults: [ValueID] = []
            for c in 0..<columns {
                let tag = "/patch_\(r)_\(c)"
                // Walk back from the patch: the range each layer's output must cover.
                var outRows = rowBounds[r] ..< rowBounds[r + 1], outColumns = columnBounds[c] ..< columnBounds[c + 1]
                var plans: [(rows: Range<Int>, columns: Range<Int>, pads: [Int])] = []
                for layer in stage.reversed() {
                    let h = layer.height.needed(outRows), w = layer.width.needed(outColumns)
                    let pads = [h.before, h.after, w.before, w.after]
                    if layer.kind == .pool && pads.contains(where: { $0 > 0 }) { return nil }
                    plans.append((outRows, outColumns, pads))
                    outRows = h.range
                    outColumns = w.range
                }
                plans.reverse()
                let inShape = original[stageInput].shape.map(Int.init)
                var current = value(like: stageInput, shape: [1, outRows.count, outColumns.count, inShape[3]], suffix: tag)
                add(Op(kind: .builtin(.slice, options: nil), inputs: [
                    stageInput,
                    int32Constant([0, outRows.lowerBound, outColumns.lowerBound, 0], shape: [4], name: original[stageInput].name + tag + "/begin"),
                    int32Constant([1, outRows.count, outColumns.count, inShape[3]], shape: [4], name: original[stageInput].name + tag + "/size"),
                ], outputs: [current]))
                var currentShape = [1, outRows.count, outColumns.count, inShape[3]]
                for (layer, plan) in zip(stage, plans) {
                    if plan.pads.contains(where: { $0 > 0 }) {
                        currentShape[1] += plan.pads[0] + plan.pads[1]
                        currentShape[2] += plan.pads[2] + plan.pads[3]
                        let padded = value(like: layer.input, shape: currentShape, suffix: tag + "/padded")
                        let paddings = int32Constant([0, 0] + plan.pads + [0, 0], shape: [4, 2], name: original[layer.output].name + tag + "/paddings")
                        var pad = Op(kind: .pad, inputs: [current, paddings], outputs: [padded])
                        pad.emptyOptionsTable = true
                        add(pad)
                        current = padded
                    }
                    currentShape = [1, plan.rows.count, plan.columns.count, layer.outChannels]
                    let output = value(like: layer.output, shape: currentShape, suffix: tag)
                    var op = original.ops[layer.op]
                    op.inputs[0] = current
                    op.outputs = [output]
                    op.kind = valid(op.kind)
                    add(op)
                    macs += layer.macs(outHeight: plan.rows.count, outWidth: plan.columns.count)
                    current = output
                }
                patchResults.append(current)
            }
            if columns == 1 {
                rowResults.append(patchResults[0])
            } else {
                let shape = [1, rowBounds[r + 1] - rowBounds[r], last.outWidth, last.outChannels]
                let row = rows == 1 ? last.output : value(like: last.output, shape: shape, suffix: "/patch_row_\(r)")
                add(Op(kind: .concatenation(axis: 2, activation: .none), inputs: patchResults, outputs: [row]))
                rowResults.append(row)
            }
        }
        if rows > 1 {
            add(Op(kind: .concatenation(axis: 1, activation: .none), inputs: rowResults, outputs: [last.output]))
        }
        // The patches run where the stage's first layer ran: they read only the stage's input
        // and constants, and the stage's inner values had no other readers.
        let stageOps = Set(stage.map(\.op))
        let first = stageOps.min()!
        var ops: [Op] = []
        for (i, op) in original.ops.enumerated() {
            if i == first { ops += newOps }
            if !stageOps.contains(i) { ops.append(op) }
        }
        m.subgraphs[0].ops = ops
        guard m.compactValues(inSubgraph: 0) != nil else { return nil }
        return (m, macs)
    }

    /// The same layer with VALID padding (the patch's PAD supplies the image border).
    static func valid(_ kind: OpKind) -> OpKind {
        var kind = kind
        if let field = OperatorTable[kind.builtinOperator]?.window { field.setPadding(&kind, .valid) }
        return kind
    }
}
