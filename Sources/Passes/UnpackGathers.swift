import IR
import Ops
import Rewrite
import Support

/// Reads every slice of a tensor with one UNPACK instead of one GATHER per slice, and lets that
/// UNPACK read through a RESHAPE that only moves dimensions of size 1. An unrolled recurrent
/// loop reads its time steps this way (tfrewrite's WHILE unrolling: one GATHER per step with a
/// constant index; TF's converter: a RESHAPE from [1,T,F] to [T,1,F] before its UNPACK). TFLM
/// gives each op a node, options and each tensor an eval tensor, an allocation record and a
/// planner record, so the arena shrinks by the GATHERs, their index constants and the RESHAPE
/// (Docs/memory.md). GATHER, UNPACK and RESHAPE all copy bytes (TFLM gather.cc, unpack.cc,
/// reshape.cc): the outputs are the same bytes, quantization included.
///
/// Given:
///
///     #0 RESHAPE (%x: i8[1,3,8], %shape) -> %y: i8[3,1,8]
///     const %i0: i32[] = [0]; const %i1: i32[] = [1]; const %i2: i32[] = [2]
///     #1 GATHER {axis=0} (%y, %i0) -> %s0: i8[1,8]
///     #2 GATHER {axis=0} (%y, %i1) -> %s1: i8[1,8]
///     #3 GATHER {axis=0} (%y, %i2) -> %s2: i8[1,8]
///
/// Result:
///
///     #1 UNPACK {num=3, axis=1} (%x) -> %s0, %s1, %s2
///
/// The GATHERs must read one tensor along one axis with scalar constant indices (batch_dims 0)
/// that name every slice (a slice read twice is read once). The RESHAPE goes when the UNPACK is
/// its only reader and it keeps the order of the dimensions larger than 1 (so the flat bytes
/// and each slice are the same); the UNPACK's outputs keep their shapes. A target that does not
/// register UNPACK keeps its GATHERs.
public struct UnpackGathers: PatternPass {
    public static let name = "unpack-gathers"
    public static let summary = "one GATHER per slice of a tensor → one UNPACK (and an UNPACK reads through a RESHAPE of 1-dimensions); outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.gathers, Self.reshapeIntoUnpack] }

    /// UnpackOptions { num: int; axis: int } (schema.fbs, BuiltinOptions tag 64).
    static func unpackKind(count: Int, axis: Int) -> OpKind {
        .builtin(.unpack, options: OpaqueOptions(typeTag: 64, vtable: [4, 8], inline: le([Int32(count), Int32(axis)]), alignmentPhase: 0))
    }

    /// UnpackOptions' axis (0 when absent, as unpack.cc reads it).
    static func unpackAxis(_ kind: OpKind) -> Int? {
        guard case .builtin(.unpack, let options) = kind else { return nil }
        return Int(options?.int32(1, default: 0) ?? 0)
    }

    public static let gathers = Pattern(name: name, rootKinds: [.gather]) { r, id in
        guard case .gather(let rawAxis, 0) = r[id].kind, r.context.target?.registers(.unpack) ?? true, let x = r[id].input(0), !r[x].isDynamic, r[x].hasRank else { return false }
        let shape = r[x].shape
        let axis = rawAxis < 0 ? Int(rawAxis) + shape.count : Int(rawAxis)
        guard axis >= 0, axis < shape.count, shape[axis] >= 2 else { return false }
        let count = Int(shape[axis])
        // Every GATHER of `x` along `axis` by a scalar constant index, by index.
        var readers: [Int: [OpID]] = [:]
        for (reader, operand) in r.uses(of: x) where operand == 0 {
            let op = r[reader]
            guard case .gather(let a, 0) = op.kind, (a < 0 ? Int(a) + shape.count : Int(a)) == axis, op.outputs.count == 1,
                let index = op.input(1), let c = r.constant(index), c.shape.isEmpty,
                let value = c.integers?.first, value >= 0, value < count
            else { continue }
            readers[Int(value), default: []].append(reader)
        }
        guard readers.count == count else { return false }
        var outputs: [ValueID] = []
        var sliceShape = shape
        sliceShape.remove(at: axis)
        for k in 0..<count {
            let ops = readers[k]!
            let first = r[ops[0]].outputs[0]
            guard r[first].shape == sliceShape, r[first].type == r[x].type else { return false }
            outputs.append(first)
        }
        // A step read twice is read once; a graph output names its tensor and stays.
        guard readers.values.allSatisfy({ $0.dropFirst().allSatisfy { !r.graph.isGraphOutput(r[$0].outputs[0]) } }) else { return false }
        for k in 0..<count {
            for duplicate in readers[k]!.dropFirst() {
                r.replaceAllUses(of: r[duplicate].outputs[0], with: outputs[k])
            }
        }
        let provenance = r[id].provenance
        for ops in readers.values { for op in ops { r.erase(op) } }
        var unpack = Op(kind: unpackKind(count: count, axis: axis), inputs: [x], outputs: outputs, provenance: provenance)
        unpack.version = OpVersions.minimum(unpack, in: r.graph, model: r.model)?.version ?? 1
        r.addOp(unpack)
        return true
    }

    public static let reshapeIntoUnpack = Pattern(name: name, rootKinds: [.unpack]) { r, id in
        guard let axis = unpackAxis(r[id].kind), let y = r[id].input(0), let reshape = r.producer(of: y),
            case .reshape = r[reshape].kind, r.hasSingleUse(y), let x = r[reshape].input(0),
            !r[x].isDynamic, !r[y].isDynamic, r[x].hasRank, r[y].hasRank, r[x].type == r[y].type
        else { return false }
        let from = r[x].shape, to = r[y].shape
        let toAxis = axis < 0 ? axis + to.count : axis
        guard toAxis >= 0, toAxis < to.count, to[toAxis] > 1, from.filter({ $0 != 1 }) == to.filter({ $0 != 1 }) else { return false }
        // The same dimension in `x`: as many dimensions larger than 1 before it.
        let before = to[..<toAxis].filter { $0 != 1 }.count
        let larger = from.indices.filter { from[$0] != 1 }
        guard before < larger.count else { return false }
        let fromAxis = larger[before]
        var slice = from
        slice.remove(at: fromAxis)
        guard r[id].outputs.allSatisfy({ r[$0].shape == slice }) else { return false }
        var unpack = r[id]
        unpack.kind = unpackKind(count: Int(to[toAxis]), axis: fromAxis)
        unpack.inputs = [x]
        r.erase(id)
        r.erase(reshape)
        r.addOp(unpack)
        return true
    }
}
