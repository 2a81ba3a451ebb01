import IR
import Ops
import Rewrite

/// Pushes a SPLIT on the last axis of a FULLY_CONNECTED's output up into one FULLY_CONNECTED
/// per part (weight rows and bias sliced), through the elementwise ADD/SUB/MUL and the
/// last-axis-preserving RESHAPE between them. An unrolled LSTM cell computes its four gate
/// pre-activations as one FULLY_CONNECTED (x·W + h·U + b) and SPLITs them into i, f, c, o; int8
/// SPLIT keeps its input's scale on every output (TFLite's quantization_spec.md: "restriction:
/// same as input"), so all four gates would share one scale though their ranges differ a lot.
/// Split at the source, each gate gets its own scale. Runs before `quantize-int8` only; a float
/// model keeps the one FULLY_CONNECTED.
///
/// Given:
///
///     input %0 "x": f32[1,2]
///     const %1 "w": f32[4,2] = [1, 2, 3, 4, 5, 6, 7, 8]; const %2 "b": f32[4] = [1, 2, 3, 4]
///     #0 FULLY_CONNECTED v1 (%0, %1, %none) -> %3 "xw": f32[1,4]
///     #1 ADD v1 (%3, %2) -> %4 "z": f32[1,4]
///     #2 SPLIT v1 (axis = 1, %4) -> %5 "i", %6 "f": f32[1,2]
///
/// Result:
///
///     #0 FULLY_CONNECTED v1 (%0, "w/rows0" = [1, 2, 3, 4], %none) -> "xw/part0": f32[1,2]
///     #1 FULLY_CONNECTED v1 (%0, "w/rows1" = [5, 6, 7, 8], %none) -> "xw/part1": f32[1,2]
///     #2 ADD v1 ("xw/part0", "b/part0" = [1, 2]) -> %5 "i"
///     #3 ADD v1 ("xw/part1", "b/part1" = [3, 4]) -> %6 "f"
///
/// Matches a SPLIT (constant axis, the last one) whose data is computed, by ops that nothing
/// else reads, from constants and float FULLY_CONNECTEDs (rank-2 output, default weights format,
/// constant [out, in] weights, constant or no bias) through ADD, SUB, MUL (operands spanning the last
/// axis, or constants broadcast along it) and RESHAPEs that keep the last
/// dimension. Each part computes the same dot products and sums in the same order: float results
/// are bit-exact.
///
/// Options: `when:` (a `PassCondition`).
public struct SplitFullyConnectedGates: ConditionalPatternPass {
    public static let name = "split-fully-connected-gates"
    public static let summary = "SPLIT of a FULLY_CONNECTED's output (through ADD/SUB/MUL/RESHAPE) → one FULLY_CONNECTED per part (int8 gives each part its own scale)"

    public var condition: PassCondition?

    public init() {}

    public init(options: PassOptions) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    /// Deep enough for FC → RESHAPE → ADD → ADD → SPLIT (Keras's unrolled LSTM step).
    static let maxDepth = 6

    public static let pattern = Pattern(name: name, rootKinds: [.split]) { r, id in
        let split = r[id]
        guard let axisID = split.input(0), let data = split.input(1), let axisTensor = r.constant(axisID),
            axisTensor.elementCount == 1, let axis = axisTensor.integers?.first,
            !r.isConstant(data), r.hasSingleUse(data), r.graph[data].dtype == .float32
        else { return false }
        let shape = r.graph[data].shape
        let parts = split.outputs.count
        guard let last = shape.last, shape.count >= 1, axis == Int64(shape.count - 1) || axis == -1,
            parts >= 2, Int(last) % parts == 0, split.outputs.allSatisfy({ !$0.isAbsent })
        else { return false }
        let size = Int(last) / parts
        let ranges = (0..<parts).map { $0 * size ..< ($0 + 1) * size }
        // Only runtime work that ends in a FULLY_CONNECTED is worth splitting.
        guard containsFullyConnected(r, data, depth: 0), splittable(r, data, width: Int(last), depth: 0) else { return false }
        _ = emit(&r, data, ranges: ranges, outputs: split.outputs)
        r.erase(id)
        return true
    }

    static func containsFullyConnected(_ r: Rewriter, _ v: ValueID, depth: Int) -> Bool {
        guard depth <= maxDepth, let p = r.producer(of: v) else { return false }
        if case .fullyConnected = r[p].kind { return true }
        return r[p].inputs.contains { !$0.isAbsent && !r.isConstant($0) && containsFullyConnected(r, $0, depth: depth + 1) }
    }

    /// True when `v` (last dimension `width`) can be computed part by part along its last axis.
    static func splittable(_ r: Rewriter, _ v: ValueID, width: Int, depth: Int) -> Bool {
        if let c = r.constant(v) {
            // Sliced when it spans the last axis, shared by every part when broadcast along it.
            return c.type.dtype == .float32 && (c.shape.last.map { Int($0) == width || $0 == 1 } ?? true)
        }
        guard depth <= maxDepth, r.hasSingleUse(v), r.graph[v].dtype == .float32, let p = r.producer(of: v),
            r[p].outputs.count == 1, r.graph[v].shape.last.map(Int.init) == width
        else { return false }
        let op = r[p]
        switch op.kind {
        case .fullyConnected(let attributes):
            guard attributes.weightsFormat == 0, !attributes.keepNumDims, r.graph[v].shape.count == 2,
                let w = op.input(1), let weights = r.constant(w), weights.type.dtype == .float32,
                weights.shape.count == 2, Int(weights.shape[0]) == width
            else { return false }
            if let b = op.input(2) {
                guard let bias = r.constant(b), bias.type.dtype == .float32, bias.elementCount == width else { return false }
            }
            return true
        case .add, .sub, .mul:
            guard op.inputs.count == 2 else { return false }
            return op.inputs.allSatisfy { x in
                // Broadcasting touches the other axes only: part k of each operand gives part k.
                !x.isAbsent && splittable(r, x, width: width, depth: depth + 1)
            }
        case .reshape:
            guard let x = op.input(0), !r.isConstant(x), r.graph[x].shape.last.map(Int.init) == width else { return false }
            return splittable(r, x, width: width, depth: depth + 1)
        default:
            return false
        }
    }

    /// The parts of `v` along its last axis; the last op of part k writes `outputs[k]` when given.
    static func emit(_ r: inout Rewriter, _ v: ValueID, ranges: [Range<Int>], outputs: [ValueID]? = nil) -> [ValueID] {
        if let c = r.constant(v) {
            guard let width = c.shape.last, width != 1 else { return ranges.map { _ in v } }
            let values = c.floats
            let rows = values.count / Int(width)
            return ranges.enumerated().map { k, range in
                var slice: [Float] = []
                slice.reserveCapacity(rows * range.count)
                for row in 0..<rows { slice.append(contentsOf: values[(row * Int(width) + range.lowerBound)..<(row * Int(width) + range.upperBound)]) }
                var shape = c.shape
                shape[shape.count - 1] = Int32(range.count)
                return SplitConcatFullyConnected.shared(&r, ConstantTensor(floats: slice, shape: shape), name: "\(r.graph[v].name)/part\(k)")
            }
        }
        let p = r.producer(of: v)!
        let op = r[p]
        let outs: [ValueID] = ranges.enumerated().map { k, range in
            if let outputs { return outputs[k] }
            var part = r.graph[v]
            part.name = "\(part.name)/part\(k)"
            part.shape[part.shape.count - 1] = Int32(range.count)
            part.shapeSignature = nil
            return r.addValue(part)
        }
        switch op.kind {
        case .fullyConnected:
            let w = r.constant(op.input(1)!)!
            let inputs = Int(w.shape[1])
            let weights = w.floats
            let bias = op.input(2).flatMap { r.constant($0)?.floats }
            let wName = r.graph[op.input(1)!].name
            for (k, range) in ranges.enumerated() {
                let rows = Array(weights[(range.lowerBound * inputs)..<(range.upperBound * inputs)])
                let pw = SplitConcatFullyConnected.shared(&r, ConstantTensor(floats: rows, shape: [Int32(range.count), Int32(inputs)]), name: "\(wName)/rows\(k)")
                var partInputs = [op.inputs[0], pw]
                if let bias, let b = op.input(2) {
                    partInputs.append(SplitConcatFullyConnected.shared(&r, ConstantTensor(floats: Array(bias[range]), shape: [Int32(range.count)]), name: "\(r.graph[b].name)/part\(k)"))
                } else if op.inputs.count > 2 {
                    partInputs.append(.absent)
                }
                r.addOp(Op(kind: op.kind, inputs: partInputs, outputs: [outs[k]], provenance: op.provenance))
            }
        case .add, .sub, .mul:
            let a = emit(&r, op.inputs[0], ranges: ranges), b = emit(&r, op.inputs[1], ranges: ranges)
            for k in ranges.indices {
                r.addOp(Op(kind: op.kind, inputs: [a[k], b[k]], outputs: [outs[k]], provenance: op.provenance))
            }
        case .reshape:
            let x = emit(&r, op.inputs[0], ranges: ranges)
            for (k, range) in ranges.enumerated() {
                var shape = r.graph[v].shape
                shape[shape.count - 1] = Int32(range.count)
                let target = SplitConcatFullyConnected.shared(&r, ConstantTensor(.int32, shape: [Int32(shape.count)], values: shape), name: "\(r.graph[v].name)/part-shape")
                r.addOp(Op(kind: .reshape(newShape: nil), inputs: [x[k], target], outputs: [outs[k]], provenance: op.provenance))
            }
        default:
            preconditionFailure("split-fully-connected-gates: emit of an op splittable() refused")
        }
        r.erase(p)
        return outs
    }
}
