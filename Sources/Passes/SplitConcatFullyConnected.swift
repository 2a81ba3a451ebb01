import IR
import Ops
import Rewrite

/// Splits a FULLY_CONNECTED over a CONCATENATION of its input's features into one
/// FULLY_CONNECTED per concatenated part, summed: W·[x, h] = W_x·x + W_h·h. A TF1 LSTM cell
/// (BasicLSTMCell: `matmul(concat([x, h], 1), kernel)`) has this form once per time step; int8
/// CONCATENATION needs one scale for all its inputs (TFLite's quantization_spec.md), so the
/// MFCC input (range ±tens) and the hidden state (±1) would share one scale and the state loses
/// all but a few of its 256 levels. Split, each part keeps its own scale, as in Keras's LSTM,
/// which multiplies x and h by separate kernels. A constant part (the zero initial state) goes
/// into the bias instead. Runs before `quantize-int8` only; a float model keeps the concat.
///
/// Given:
///
///     input %0 "x": f32[1,2]; input %1 "h": f32[1,1]
///     #0 CONCATENATION v1 {axis=1} (%0, %1) -> %2: f32[1,3]
///     const %3 "w": f32[2,3] = [1, 2, 3, 4, 5, 6]; const %4 "b": f32[2] = [0.5, -1]
///     #1 FULLY_CONNECTED v1 (%2, %3, %4) -> %5 "y": f32[1,2]  act=RELU
///
/// Result:
///
///     #0 FULLY_CONNECTED v1 (%0, "w/part0" = [1, 2, 4, 5], %4) -> "y/part0": f32[1,2]
///     #1 FULLY_CONNECTED v1 (%1, "w/part1" = [3, 6]) -> "y/part1": f32[1,2]
///     #2 ADD v1 ("y/part0", "y/part1") -> %5 "y"  act=RELU
///
/// Matches a float FULLY_CONNECTED (rank-2 input, default weights format, keep_num_dims off)
/// with constant [out, in] weights whose input is a CONCATENATION along its last axis, without
/// activation, that nothing else reads. Constant parts must have batch 1 (their product is a
/// bias). Float results change only by the order of the sums (≤ 1e-6 on the TF1 LSTM fixtures).
///
/// Options: `when:` (a `PassCondition`).
public struct SplitConcatFullyConnected: ConditionalPatternPass {
    public static let name = "split-concat-fully-connected"
    public static let summary = "FULLY_CONNECTED over a feature CONCATENATION → one FULLY_CONNECTED per part, summed (int8 keeps each part's scale)"

    public var condition: PassCondition?

    public init() {}

    public init(options: PassOptions) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.fullyConnected]) { r, id in
        let fc = r[id]
        guard case .fullyConnected(let attributes) = fc.kind, attributes.weightsFormat == 0, !attributes.keepNumDims,
            let xid = fc.input(0), let wid = fc.input(1), let w = r.constant(wid), w.type.dtype == .float32, w.shape.count == 2,
            fc.outputs.count == 1, r.graph[fc.outputs[0]].dtype == .float32,
            let concatID = r.producer(of: xid), case .concatenation(let axis, .none) = r[concatID].kind,
            r.hasSingleUse(xid), r.graph[xid].shape.count == 2, axis == 1 || axis == -1
        else { return false }
        let parts = r[concatID].inputs
        let units = Int(w.shape[0]), inputs = Int(w.shape[1])
        guard parts.count >= 2, parts.allSatisfy({ !$0.isAbsent && r.graph[$0].shape.count == 2 && r.graph[$0].dtype == .float32 }),
            parts.map({ Int(r.graph[$0].shape[1]) }).reduce(0, +) == inputs
        else { return false }
        var bias: [Float]
        if let bid = fc.input(2) {
            guard let b = r.constant(bid), b.type.dtype == .float32, b.elementCount == units else { return false }
            bias = b.floats
        } else {
            bias = [Float](repeating: 0, count: units)
        }
        let weights = w.floats
        var runtime: [(value: ValueID, columns: Range<Int>)] = []
        var start = 0
        var folded = false
        for p in parts {
            let columns = start ..< start + Int(r.graph[p].shape[1])
            start = columns.upperBound
            guard let c = r.constant(p) else {
                runtime.append((p, columns))
                continue
            }
            // A constant part adds W_c·c to every output: only one batch row can be a bias.
            guard r.graph[p].shape[0] == 1 else { return false }
            let values = c.floats
            for u in 0..<units {
                var sum: Float = 0
                for (k, col) in columns.enumerated() { sum += weights[u * inputs + col] * values[k] }
                bias[u] += sum
            }
            folded = true
        }
        guard !runtime.isEmpty else { return false }
        let output = fc.outputs[0]
        let outValue = r.graph[output]
        let name = outValue.name
        let wName = r.graph[wid].name
        var partial: [ValueID] = []
        for (k, part) in runtime.enumerated() {
            var slice: [Float] = []
            slice.reserveCapacity(units * part.columns.count)
            for u in 0..<units { slice.append(contentsOf: weights[(u * inputs + part.columns.lowerBound)..<(u * inputs + part.columns.upperBound)]) }
            let pw = shared(&r, ConstantTensor(floats: slice, shape: [Int32(units), Int32(part.columns.count)]), name: "\(wName)/part\(k)")
            var inputs = [part.value, pw]
            if k == 0 && (fc.input(2) != nil || folded) {
                inputs.append(shared(&r, ConstantTensor(floats: bias, shape: [Int32(units)]), name: "\(wName)/bias"))
            } else {
                inputs.append(.absent)
            }
            let only = runtime.count == 1
            var partAttributes = attributes
            if !only { partAttributes.activation = .none }
            var v = outValue
            v.name = "\(name)/part\(k)"
            let out = only ? output : r.addValue(v)
            r.addOp(Op(kind: .fullyConnected(partAttributes), inputs: inputs, outputs: [out], provenance: fc.provenance))
            partial.append(out)
        }
        var sum = partial[0]
        for k in 1..<max(1, partial.count) {
            let last = k == partial.count - 1
            var v = outValue
            v.name = "\(name)/sum\(k)"
            let out = last ? output : r.addValue(v)
            r.addOp(Op(kind: .add(ArithmeticAttributes(activation: last ? attributes.activation : .none)), inputs: [sum, partial[k]], outputs: [out], provenance: fc.provenance))
            sum = out
        }
        r.erase(id)
        r.erase(concatID)
        return true
    }

    /// The constant named `name` holding `t` if an earlier match made it (the same weights in
    /// every time step of an unrolled loop), else a new one.
    static func shared(_ r: inout Rewriter, _ t: ConstantTensor, name: String) -> ValueID {
        for (i, v) in r.graph.values.enumerated() where v.name == name && v.shape == t.shape {
            if r.constant(ValueID(i)) == t { return ValueID(i) }
        }
        return r.addConstant(t, name: name)
    }
}
