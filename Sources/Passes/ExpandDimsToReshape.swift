import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Rewrites EXPAND_DIMS and SQUEEZE as RESHAPE to their (static) output shape. TF's converter
/// keeps the ExpandDims of a Keras Conv1D as EXPAND_DIMS (and its Squeeze as RESHAPE or
/// SQUEEZE); TFLM registered neither EXPAND_DIMS nor SQUEEZE until 2021, while RESHAPE v1 ran
/// from the start. All three copy the data unchanged (LiteRT/TFLM expand_dims.cc, squeeze.cc and
/// reshape.cc: the output is the input's bytes), so the rewrite is exact, int8 included.
///
/// Given:
///
///     input %0 "x": f32[1,8,8]
///     const %1 "axis": i32[] = [1]
///     #0 EXPAND_DIMS v1 (%0, %1) -> %2 "ExpandDims": f32[1,1,8,8]
///     #1 SQUEEZE v1 {squeeze_dims=[1]} (%2) -> %3 "Squeeze": f32[1,8,8]
///
/// Result:
///
///     const %4 "ExpandDims/shape": i32[4] = [1, 1, 8, 8]
///     const %5 "Squeeze/shape": i32[3] = [1, 8, 8]
///     #0 RESHAPE v1 (%0, %4) -> %2 "ExpandDims": f32[1,1,8,8]
///     #1 RESHAPE v1 (%2, %5) -> %3 "Squeeze": f32[1,8,8]
///
/// The shape goes in RESHAPE's second input, as TF 2.x writes it (no new_shape option).
/// Applies only when input and output shapes are static (no −1 in the signature): a RESHAPE to
/// a fixed shape would otherwise pin a dimension the model left open.
///
/// Options: `when:` (a `PassCondition`, e.g. `{ target_lacks: EXPAND_DIMS }`).
public struct ExpandDimsToReshape: ConditionalPatternPass, RemovesMissingOps {
    public static let name = "expand-dims-to-reshape"
    public static let summary = "EXPAND_DIMS/SQUEEZE with a static shape → RESHAPE (for targets without them)"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: removableOps) { r, id in
        guard let shape = staticOutputShape(r, id) else { return false }
        let out = r[id].outputs[0]
        let shapeID = r.addConstant(ConstantTensor(.int32, shape: [Int32(shape.count)], values: shape), name: r[out].name + "/shape")
        var op = r[id]
        op.kind = .reshape(newShape: nil)
        op.version = 1
        op.inputs = [op.inputs[0], shapeID]
        r[id] = op
        return true
    }

    /// The output shape of an EXPAND_DIMS/SQUEEZE whose input and output are static; nil otherwise.
    static func staticOutputShape(_ r: Rewriter, _ id: OpID) -> [Int32]? {
        let op = r[id]
        guard removableOps.contains(op.builtinOperator), op.outputs.count == 1, let x = op.input(0),
            !r[x].isDynamic, !r[op.outputs[0]].isDynamic, r[x].elementCount == r[op.outputs[0]].elementCount
        else { return nil }
        return r[op.outputs[0]].shape
    }

    package static var removableOps: Set<BuiltinOperator> { [.expandDims, .squeeze] }

    package static func missingOpFix(_ r: Rewriter, _ id: OpID, target: TargetProfile) -> MissingOpFix? {
        guard target.registers(.reshape) else { return nil }
        if staticOutputShape(r, id) != nil {
            return MissingOpFix(detail: "its output shape is static", pass: name,
                                hint: "expand-dims-to-reshape rewrites it as RESHAPE (exact)")
        }
        return MissingOpFix(detail: "its shape is dynamic", pass: name,
                            hint: "expand-dims-to-reshape rewrites it as RESHAPE once fold-shapes fixed the batch (give --batch N)")
    }
}
