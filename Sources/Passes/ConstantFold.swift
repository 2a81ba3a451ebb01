import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Replaces an op whose inputs are all constant by its result, computed with
/// `ConstantEvaluator`; a SHAPE of a tensor with a static shape folds too, whatever its input.
/// Frozen graphs compute batch-norm factors and reshape targets this way, and the folds below
/// (`fold-batch-norm`, `fold-bias-add`) need those as plain constants.
///
/// Given:
///
///     const %1 "var": f32[2] = [3.0, 0.0]
///     const %2 "eps": f32[] = [1.0]
///     #0 ADD v1 (%1, %2) -> %3 "bn/add": f32[2]
///     #1 RSQRT v1 (%3) -> %4 "bn/Rsqrt": f32[2]
///     #2 MUL v1 (%0, %4) -> %5 "y": f32[1,2]
///
/// Result:
///
///     const %4 "bn/Rsqrt": f32[2] = [0.5, 1.0]
///     #2 MUL v1 (%0, %4) -> %5 "y": f32[1,2]
///
/// The folded value keeps its name and provenance and becomes a constant with fresh data.
/// Graph outputs and quantized tensors are left alone, and so is any op the evaluator does not
/// compute (it never guesses).
public struct ConstantFold: ConditionalPatternPass {
    public static let name = "constant-fold"
    public static let summary = "compute ops whose inputs are all constant (and SHAPE of static shapes)"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: nil) { r, id in
        let op = r[id]
        guard op.outputs.count == 1, let out = op.outputs.first, !out.isAbsent, !r.graph.isGraphOutput(out) else { return false }
        let result: ConstantTensor?
        if case .shape(let outType) = op.kind {
            guard let x = op.input(0), !r[x].isDynamic, r[x].hasRank else { return false }
            let dims = r[x].shape
            result = outType == .int64
                ? ConstantTensor(.int64, shape: [Int32(dims.count)], values: dims.map(Int64.init))
                : ConstantTensor(.int32, shape: [Int32(dims.count)], values: dims)
        } else {
            guard !op.inputs.isEmpty, op.inputs.allSatisfy({ $0.isAbsent || r.isConstant($0) }),
                op.inputs.contains(where: { !$0.isAbsent })
            else { return false }
            try ConstantEvaluator.checkMemoryBudget(op.kind, output: r[out], label: "\(op.label(id)) (tensor \"\(r[out].name)\")")
            let inputs = op.inputs.map { $0.isAbsent ? nil : r.constant($0) }
            result = ConstantEvaluator.evaluate(op.kind, inputs: inputs, outputs: [r[out]])?.first
        }
        guard let t = result, t.type.dtype == r[out].dtype, Value.elementCount(t.shape) == r[out].elementCount else { return false }
        r.setConstant(out, t)
        r.erase(id)
        return true
    }
}
