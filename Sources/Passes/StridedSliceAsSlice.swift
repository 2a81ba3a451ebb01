import IR
import Ops
import Rewrite

/// Writes a STRIDED_SLICE that takes one contiguous block (every stride 1, no masks beyond
/// begin and end) as a SLICE. Both copy the same bytes, but TFLM's strided_slice.cc keeps a
/// `StridedSliceParams` per op (about 90 bytes) and its builtin options, while slice.cc keeps
/// nothing; and one begin and one size constant (a size of −1 runs to the end of its
/// dimension, slice.h) serve every SLICE that cuts the same rows, where a STRIDED_SLICE needs
/// begin, end and strides. A streaming model's state update (drop the oldest frame) is one per
/// state (Docs/memory.md).
///
/// Given:
///
///     const %b: i32[3] = [0, 1, 0]; const %e: i32[3] = [0, 0, 0]; const %s: i32[3] = [1, 1, 1]
///     #0 STRIDED_SLICE {begin_mask=5, end_mask=7} (%x: i8[1,3,8], %b, %e, %s) -> %y: i8[1,2,8]
///
/// Result:
///
///     const %begin: i32[3] = [0, 1, 0]; const %size: i32[3] = [-1, -1, -1]
///     #0 SLICE (%x, %begin, %size) -> %y: i8[1,2,8]
///
/// Matches static shapes up to rank 4, float32, int8, int16 or int32 data, constant begin, end
/// and strides with every stride 1, no ellipsis, new-axis or shrink mask and no offset, and a
/// non-empty block that is the output's shape. Equal begin and size constants are shared. A
/// target that does not register SLICE keeps the STRIDED_SLICE.
public struct StridedSliceAsSlice: PatternPass {
    public static let name = "strided-slice-as-slice"
    public static let summary = "STRIDED_SLICE of one contiguous block (strides 1) → SLICE (no op data, fewer constants); outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    static let sliceTypes: Set<DType> = [.float32, .int8, .int16, .int32]

    public static let pattern = Pattern(name: name, rootKinds: [.stridedSlice]) { r, id in
        let op = r[id]
        guard case .stridedSlice(let a) = op.kind, a.ellipsisMask == 0, a.newAxisMask == 0, a.shrinkAxisMask == 0, !a.offset,
            r.context.target?.registers(.slice) ?? true, op.inputs.count == 4, op.outputs.count == 1,
            let x = op.input(0), let y = op.outputs.first, !r[x].isDynamic, !r[y].isDynamic, r[x].hasRank,
            sliceTypes.contains(r[x].dtype), r[x].type == r[y].type, r[x].rank >= 1, r[x].rank <= 4,
            let begins = op.input(1).flatMap({ r.constant($0)?.integers }), let ends = op.input(2).flatMap({ r.constant($0)?.integers }),
            let strides = op.input(3).flatMap({ r.constant($0)?.integers }), strides.allSatisfy({ $0 == 1 })
        else { return false }
        let shape = r[x].shape.map(Int64.init), rank = shape.count
        guard begins.count == rank, ends.count == rank, strides.count == rank else { return false }
        // strided_slice.cc: a masked bound is the dimension's start or end; a negative one counts
        // from the end; both are clamped into the dimension.
        func resolve(_ v: Int64, _ dim: Int64) -> Int64 { min(max(v < 0 ? v + dim : v, 0), dim) }
        var begin: [Int32] = [], size: [Int32] = [], extent: [Int32] = []
        for d in 0..<rank {
            let lo = a.beginMask & (1 << d) != 0 ? 0 : resolve(begins[d], shape[d])
            let hi = a.endMask & (1 << d) != 0 ? shape[d] : resolve(ends[d], shape[d])
            guard hi > lo else { return false }
            begin.append(Int32(lo))
            size.append(hi == shape[d] ? -1 : Int32(hi - lo))
            extent.append(Int32(hi - lo))
        }
        guard r[y].shape == extent else { return false }
        let name = r[y].name
        let beginID = r.sharedConstant(ConstantTensor(.int32, shape: [Int32(rank)], values: begin), name: "\(name)/begin")
        let sizeID = r.sharedConstant(ConstantTensor(.int32, shape: [Int32(rank)], values: size), name: "\(name)/size")
        var slice = Op(kind: .builtin(.slice, options: nil), inputs: [x, beginID, sizeID], outputs: [y], provenance: op.provenance)
        slice.version = OpVersions.minimum(slice, in: r.graph, model: r.model)?.version ?? 1
        r.erase(id)
        r.addOp(slice)
        return true
    }
}
