import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Evaluates shape arithmetic on constants so a RESHAPE gets a constant shape input and the ops
/// that computed it disappear. A Keras `Flatten` (or `Reshape`) converted with batch None leaves
/// SHAPE → STRIDED_SLICE → PACK → RESHAPE, and many TFLM builds register none of the first three.
///
/// Given (batch 1):
///
///     input %0 "x": i8[?,1,1,64]
///     const %1: i32[1] = [0]
///     const %2: i32[1] = [1]
///     const %3: i32[] = [64]
///     #0 SHAPE v1 {out_type=INT32} (%0) -> %4: i32[4]
///     #1 STRIDED_SLICE v1 {…, shrink_axis_mask=1} (%4, %1, %2, %2) -> %5: i32[]
///     #2 PACK v1 {values_count=2, axis=0} (%5, %3) -> %6: i32[2]
///     #3 RESHAPE v1 (%0, %6) -> %7: i8[?,64]
///
/// Result:
///
///     input %0 "x": i8[1,1,1,64]
///     const %6: i32[2] = [1, 64]
///     #3 RESHAPE v1 (%0, %6) -> %7: i8[1,64]
///
/// Folded ops: SHAPE (of a tensor whose shape is known), STRIDED_SLICE (all masks, incl.
/// ellipsis, new_axis, shrink_axis and offset), PACK, CONCATENATION, GATHER (batch_dims 0),
/// ADD, SUB, MUL, DIV, FLOOR_DIV (no fused activation) and RESHAPE of a constant, on int32 and
/// int64 tensors without quantization (`ShapeArithmetic`). A folded op's output becomes a
/// constant in place (same value, same name); the ops go, their now-unused inputs stay until
/// `cleanup`. Results that are graph outputs, larger than 65536 elements, overflow, or that
/// the kernel would reject (index out of range, zero divisor) are left to the runtime.
///
/// The batch: a dimension 0 that is −1 in `shape_signature` is only known with a batch size,
/// from the `batch` option or the pipeline's `--batch`. With one, every such dimension 0
/// becomes that size (shape and shape_signature), so SHAPE of it folds and TFLM, which never
/// resizes inputs, sees consistent static shapes. A RESHAPE with a constant shape also gets
/// its output's static shape set from it.
///
/// Options: `batch` (integer ≥ 1; default: the pipeline's batch, else dynamic dims stay).
public struct FoldShapes: GraphPass {
    public static let name = "fold-shapes"
    public static let summary = "Fold SHAPE/STRIDED_SLICE/PACK/… on constant shape tensors; fix a dynamic batch; static RESHAPE outputs"

    public var batch: Int?

    public init(options: PassOptions = PassOptions()) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["batch"])
        batch = try reader.int("batch", in: 1...Int(Int32.max))
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changed = false
        if let b = batch ?? context.batch {
            guard b >= 1, b <= Int(Int32.max) else { throw PassError.failed(pass: Self.name, message: "batch \(b) is not a positive int32") }
            let fixed = Self.fixBatch(&model, to: Int32(b))
            if fixed > 0 {
                context.count("\(Self.name).batch-fixed", fixed)
                changed = true
            }
        }
        if try GreedyRewriteDriver(patterns: Self.patterns, passName: Self.name).run(on: &model, context: &context) { changed = true }
        let stuck = model.subgraphs.indices.flatMap { s in
            model.subgraphs[s].ops.filter { op in
                guard case .shape = op.kind, let x = op.input(0), x.index < model.subgraphs[s].values.count else { return false }
                return model.subgraphs[s].values[x.index].isDynamic
            }
        }
        if !stuck.isEmpty {
            context.note("\(Self.name): \(stuck.count) SHAPE op(s) read a tensor with a dynamic dimension; give the batch (option `batch`, or --batch) to fold them")
        }
        return changed
    }

    /// Sets dimension 0 of every tensor whose shape_signature has −1 there to `batch`, in shape
    /// and signature. Returns how many tensors changed.
    @discardableResult
    public static func fixBatch(_ model: inout Model, to batch: Int32) -> Int {
        var n = 0
        for s in model.subgraphs.indices {
            for i in model.subgraphs[s].values.indices {
                let v = model.subgraphs[s].values[i]
                guard var sig = v.shapeSignature, !sig.isEmpty, sig[0] == -1, v.shape.count == sig.count else { continue }
                sig[0] = batch
                model.subgraphs[s].values[i].shapeSignature = sig
                model.subgraphs[s].values[i].shape[0] = batch
                n += 1
            }
        }
        return n
    }

    /// The fold patterns, one per op the table gives shape arithmetic, plus the RESHAPE
    /// static-output pattern.
    public static var patterns: [Pattern] {
        let kinds = OperatorTable.all.filter { $0.shapeArithmetic != nil }.map(\.op)
        return kinds.map { kind in
            Pattern(name: "fold-\(kind.name.lowercased().replacingOccurrences(of: "_", with: "-"))", rootKinds: [kind], benefit: 2) { r, id in
                try fold(&r, id)
            }
        } + [reshapeStaticOutput]
    }


    /// Replaces the op's output by its value when `evaluate` can compute it.
    package static func fold(_ r: inout Rewriter, _ id: OpID) throws -> Bool {
        guard r[id].outputs.count == 1, let out = r[id].outputs.first, !out.isAbsent, out.index < r.graph.values.count,
            !r.graph.isGraphOutput(out), !r[out].isVariable, !r[out].type.isQuantized,
            let result = evaluate(r, id)
        else { return false }
        let declared = r[out]
        guard declared.dtype == result.dtype else { return false }
        if !declared.isDynamic, declared.hasRank || !declared.shape.isEmpty, declared.shape.map(Int.init) != result.shape {
            r.context.noteOnce("\(name): \(r[id].label(id)) evaluates to shape \(result.shape) but declares \(declared.shape); left alone")
            return false
        }
        guard let t = result.constant() else { return false }
        r.setConstant(out, t)
        r.erase(id)
        return true
    }

    /// The op's output as a constant, nil when its inputs are not all known or the case is not
    /// handled (the op's `shapeArithmetic` in the operator table). Reusable by other passes and rules.
    public static func evaluate(_ r: Rewriter, _ id: OpID) -> IntTensor? {
        guard let evaluate = OperatorTable[r[id].builtinOperator]?.shapeArithmetic else { return nil }
        return evaluate(operands(r, id))
    }

    /// The op's inputs as shape arithmetic sees them.
    package static func operands(_ r: Rewriter, _ id: OpID) -> ShapeOperands {
        let op = r[id]
        return ShapeOperands(
            op: op,
            value: { k in r.operand(id, k) },
            constant: { k in
                guard let v = op.input(k), v.index < r.graph.values.count, let c = r.constant(v) else { return nil }
                return IntTensor(c)
            }
        )
    }

    /// RESHAPE with a known shape and a static input: give the output that static shape.
    package static let reshapeStaticOutput = Pattern(name: "reshape-static-output", rootKinds: [.reshape]) { r, id in
        guard case .reshape(let newShape) = r[id].kind, r[id].outputs.count == 1,
            let x = r.operand(id, 0), !x.isDynamic, let count = x.elementCount, let y = r.result(id),
            let requested = operands(r, id).reshapeRequest(newShape: newShape)
        else { return false }
        guard let dims = ShapeArithmetic.reshapeDimensions(requested, elementCount: count), let d32 = IntTensor.dims32(dims) else {
            r.context.noteOnce("\(name): \(r[id].label(id)) asks for shape \(requested), which cannot hold the \(count) elements of its input; left alone")
            return false
        }
        if y.shape == d32 && !y.isDynamic { return false }
        let out = r[id].outputs[0]
        r[out].shape = d32
        if r[out].shapeSignature != nil { r[out].shapeSignature = d32 }
        return true
    }
}
