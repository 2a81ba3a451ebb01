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

    /// The fold patterns, one per root op kind, plus the RESHAPE static-output pattern.
    public static var patterns: [Pattern] {
        let kinds: [BuiltinOperator] = [.shape, .stridedSlice, .pack, .concatenation, .gather, .add, .sub, .mul, .div, .floorDiv, .reshape]
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
    /// handled. Reusable by other passes and rules.
    public static func evaluate(_ r: Rewriter, _ id: OpID) -> IntTensor? {
        let op = r[id]
        func int(_ k: Int) -> IntTensor? {
            guard let v = op.input(k), v.index < r.graph.values.count, let c = r.constant(v) else { return nil }
            return IntTensor(c)
        }
        func all() -> [IntTensor]? {
            var xs: [IntTensor] = []
            for k in op.inputs.indices {
                guard let x = int(k) else { return nil }
                xs.append(x)
            }
            return xs.isEmpty ? nil : xs
        }
        func vector(_ k: Int) -> [Int64]? {
            guard let t = int(k), t.shape.count == 1 else { return nil }
            return t.values
        }
        switch op.kind {
        case .shape(let outType):
            guard let x = r.operand(id, 0), !x.isDynamic, x.hasRank || !x.shape.isEmpty else { return nil }
            return ShapeArithmetic.shape(of: x.shape, outType: outType)
        case .stridedSlice(let a):
            guard op.inputs.count == 4, let x = int(0), let b = vector(1), let e = vector(2), let s = vector(3) else { return nil }
            return ShapeArithmetic.stridedSlice(x, begin: b, end: e, strides: s, a)
        case .pack(let count, let axis):
            guard let xs = all(), xs.count == Int(count) else { return nil }
            return ShapeArithmetic.pack(xs, axis: Int(axis))
        case .concatenation(let axis, let act):
            guard act == .none, let xs = all() else { return nil }
            return ShapeArithmetic.concatenate(xs, axis: Int(axis))
        case .gather(let axis, let batchDims):
            guard op.inputs.count == 2, let p = int(0), let i = int(1) else { return nil }
            return ShapeArithmetic.gather(p, indices: i, axis: Int(axis), batchDims: Int(batchDims))
        case .add(let a), .sub(let a):
            guard a.activation == .none, op.inputs.count == 2, let x = int(0), let y = int(1) else { return nil }
            return ShapeArithmetic.broadcast(x, y, op.builtinOperator == .add ? ShapeArithmetic.add : ShapeArithmetic.subtract)
        case .mul(let act):
            guard act == .none, op.inputs.count == 2, let x = int(0), let y = int(1) else { return nil }
            return ShapeArithmetic.broadcast(x, y, ShapeArithmetic.multiply)
        case .builtin(let code, let options) where code == .div || code == .floorDiv:
            // DivOptions field 0 is the fused activation; FloorDivOptions has no fields.
            guard code == .floorDiv || (options?.int8Field(0) ?? 0) == 0, op.inputs.count == 2, let x = int(0), let y = int(1) else { return nil }
            return ShapeArithmetic.broadcast(x, y, code == .div ? ShapeArithmetic.divide : ShapeArithmetic.floorDivide)
        case .reshape(let newShape):
            guard let x = int(0), let requested = reshapeRequest(r, id, newShape: newShape),
                let dims = ShapeArithmetic.reshapeDimensions(requested, elementCount: x.elementCount)
            else { return nil }
            return IntTensor(dtype: x.dtype, shape: dims, values: x.values)
        default:
            return nil
        }
    }

    /// RESHAPE's requested shape: the constant shape input when there is a 1-D one, else the
    /// legacy ReshapeOptions.new_shape (as TFLite's reshape kernel chooses).
    package static func reshapeRequest(_ r: Rewriter, _ id: OpID, newShape: [Int32]?) -> [Int64]? {
        if let s = r[id].input(1), s.index < r.graph.values.count {
            guard let c = r.constant(s), let t = IntTensor(c), t.shape.count == 1 else { return nil }
            return t.values
        }
        return newShape.map { $0.map(Int64.init) }
    }

    /// RESHAPE with a known shape and a static input: give the output that static shape.
    package static let reshapeStaticOutput = Pattern(name: "reshape-static-output", rootKinds: [.reshape]) { r, id in
        guard case .reshape(let newShape) = r[id].kind, r[id].outputs.count == 1,
            let x = r.operand(id, 0), !x.isDynamic, let count = x.elementCount, let y = r.result(id),
            let requested = reshapeRequest(r, id, newShape: newShape)
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

extension OpaqueOptions {
    /// An int8 scalar field of the kept options table, 0 when absent (the schema default).
    /// Nil when the table is too short to hold it.
    package func int8Field(_ id: Int) -> Int8? {
        guard id < vtable.count else { return 0 }
        let offset = Int(vtable[id])
        if offset == 0 { return 0 }
        // vtable offsets count from the table start; `inline` starts after the 4-byte soffset.
        let at = offset - 4
        guard at >= 0, at < inline.count else { return nil }
        return Int8(bitPattern: inline[at])
    }
}
