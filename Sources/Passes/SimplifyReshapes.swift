import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Removes RESHAPEs that do nothing a runtime needs: a RESHAPE of a RESHAPE reads the first
/// one's input directly, a RESHAPE to the shape it already has disappears, and the flattening
/// RESHAPE in front of a FULLY_CONNECTED goes, since FULLY_CONNECTED (keep_num_dims false)
/// flattens its input to [elements / in, in] itself. The importer lowers Squeeze and
/// ExpandDims to RESHAPE, so those go the same way.
///
/// Given:
///
///     #0 RESHAPE v1 (%0, %1) -> %2 "Reshape": f32[1,490]
///     #1 RESHAPE v1 (%2, %3) -> %4 "Reshape_1": f32[1,49,10,1]
///     ...
///     #5 RESHAPE v1 (%9, %10) -> %11 "flatten": f32[1,4000]
///     #6 FULLY_CONNECTED v1 (%11, %12, %13) -> %14 "fc": f32[1,4]
///
/// Result:
///
///     #1 RESHAPE v1 (%0, %3) -> %4 "Reshape_1": f32[1,49,10,1]
///     ...
///     #6 FULLY_CONNECTED v1 (%9, %12, %13) -> %14 "fc": f32[1,4]
///
/// The last rule applies when every reader of the RESHAPE's output is such a
/// FULLY_CONNECTED input, the output is [N, in] with `in` the weights' second dimension, and it
/// is not a graph output: the FULLY_CONNECTED then computes the same rows. This is how
/// TOCO's micro_speech model feeds [1,25,20,8] straight into its FULLY_CONNECTED. Shapes
/// must be static; dynamic (−1) shapes are left alone.
public struct SimplifyReshapes: ConditionalPatternPass {
    public static let name = "simplify-reshapes"
    public static let summary = "drop RESHAPE chains, no-op RESHAPEs and the flattening RESHAPE before FULLY_CONNECTED"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.reshape]) { r, id in
        let op = r[id]
        guard op.outputs.count == 1, let x = op.input(0), let y = op.outputs.first,
            !r[x].isDynamic, !r[y].isDynamic, r[x].type == r[y].type
        else { return false }
        // RESHAPE(RESHAPE(a)) → RESHAPE(a): the inner one is left for dead-code removal.
        if let p = r.producer(of: x), r[p].builtinOperator == .reshape, let a = r[p].input(0), !r[a].isDynamic, r[a].type == r[x].type {
            r[id].inputs[0] = a
            r[id].provenance = r[p].provenance + r[id].provenance.filter { !r[p].provenance.contains($0) }
            return true
        }
        guard !r.graph.isGraphOutput(y) else { return false }
        // A RESHAPE to the same shape.
        if r[x].shape == r[y].shape {
            r.replaceAllUses(of: y, with: x)
            r.erase(id)
            return true
        }
        // A flattening RESHAPE whose only readers are FULLY_CONNECTED inputs.
        let uses = r.uses(of: y)
        guard !uses.isEmpty, r[y].rank == 2 else { return false }
        for (reader, operand) in uses {
            guard operand == 0, case .fullyConnected(let a) = r[reader].kind, !a.keepNumDims,
                let w = r[reader].input(1), r[w].rank == 2, r[w].shape[1] == r[y].shape[1]
            else { return false }
        }
        r.replaceAllUses(of: y, with: x)
        r.erase(id)
        return true
    }
}
