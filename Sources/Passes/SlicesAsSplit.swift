import IR
import Ops
import Rewrite
import Support

/// Cuts a tensor with one SPLIT (equal pieces) or SPLIT_V instead of one SLICE per piece when
/// the SLICEs tile one axis: each takes the whole tensor but a range of that axis, and the
/// ranges cover it without gaps or overlaps. TF's converter leaves three SLICEs of the
/// recurrent projection per step of an unrolled GRU (update, reset and candidate gates). All
/// of them copy the same bytes (TFLM slice.cc, split.cc, split_v.cc); TFLM then holds one node
/// instead of several, and the SLICEs' begin and size constants go (Docs/memory.md).
///
/// Given:
///
///     #0 SLICE (%p: i8[1,48], [0, 0], [1, 16]) -> %z: i8[1,16]
///     #1 SLICE (%p, [0, 32], [-1, -1]) -> %h: i8[1,16]
///     #2 SLICE (%p, [0, 16], [1, 16]) -> %r: i8[1,16]
///
/// Result:
///
///     const %axis: i32[] = [1]
///     #0 SPLIT {num_splits=3} (%axis, %p) -> %z, %r, %h
///
/// Matches static shapes up to rank 4, constant begin and size, outputs of the input's element
/// type; a range read twice is read once. Unequal pieces become SPLIT_V. A target that does not
/// register the op keeps the SLICEs.
public struct SlicesAsSplit: PatternPass {
    public static let name = "slices-as-split"
    public static let summary = "SLICEs that tile one axis of a tensor → one SPLIT or SPLIT_V; outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    /// A SLICE's block as one range per dimension (slice.h: a size of −1 runs to the end).
    static func block(_ r: Rewriter, _ id: OpID, shape: [Int64]) -> [Range<Int64>]? {
        let op = r[id]
        guard case .builtin(.slice, _) = op.kind, op.outputs.count == 1, let b = op.input(1), let s = op.input(2),
            let begin = r.constant(b)?.integers, let size = r.constant(s)?.integers, begin.count == shape.count, size.count == shape.count
        else { return nil }
        var ranges: [Range<Int64>] = []
        for d in shape.indices {
            let lo = begin[d], hi = size[d] == -1 ? shape[d] : begin[d] + size[d]
            guard lo >= 0, hi > lo, hi <= shape[d] else { return nil }
            ranges.append(lo ..< hi)
        }
        return ranges
    }

    public static let pattern = Pattern(name: name, rootKinds: [.slice]) { r, id in
        guard let x = r[id].input(0), !r[x].isDynamic, r[x].hasRank, r[x].rank >= 1, r[x].rank <= 4 else { return false }
        let shape = r[x].shape.map(Int64.init)
        // The SLICEs of `x` that cut one axis only, by that axis.
        var pieces: [Int: [(range: Range<Int64>, op: OpID)]] = [:]
        for (reader, operand) in r.uses(of: x) where operand == 0 {
            guard let ranges = block(r, reader, shape: shape), r[r[reader].outputs[0]].type == r[x].type else { continue }
            let cut = shape.indices.filter { ranges[$0] != 0 ..< shape[$0] }
            guard cut.count == 1 else { continue }
            pieces[cut[0], default: []].append((ranges[cut[0]], reader))
        }
        for (axis, found) in pieces.sorted(by: { $0.key < $1.key }) {
            // One op per range; the ranges, in order, must tile the axis.
            var byRange: [Range<Int64>: [OpID]] = [:]
            for p in found { byRange[p.range, default: []].append(p.op) }
            let ranges = byRange.keys.sorted { $0.lowerBound < $1.lowerBound }
            guard ranges.count >= 2, ranges.first?.lowerBound == 0, ranges.last?.upperBound == shape[axis],
                zip(ranges, ranges.dropFirst()).allSatisfy({ $0.upperBound == $1.lowerBound })
            else { continue }
            let sizes = ranges.map { Int32($0.count) }
            let equal = Set(sizes).count == 1
            guard r.context.target?.registers(equal ? .split : .splitV) ?? true,
                byRange.values.allSatisfy({ $0.dropFirst().allSatisfy { !r.graph.isGraphOutput(r[$0].outputs[0]) } })
            else { continue }
            var outputs: [ValueID] = []
            for range in ranges {
                let ops = byRange[range]!
                let first = r[ops[0]].outputs[0]
                for duplicate in ops.dropFirst() { r.replaceAllUses(of: r[duplicate].outputs[0], with: first) }
                outputs.append(first)
            }
            let provenance = r[id].provenance
            for ops in byRange.values { for op in ops { r.erase(op) } }
            let axisID = r.sharedConstant(ConstantTensor(.int32, shape: [], values: [Int32(axis)]), name: "\(r[x].name)/split_axis")
            var split: Op
            if equal {
                // SplitOptions { num_splits: int } (schema.fbs): the axis is input 0, the data input 1.
                let options = OpaqueOptions(typeTag: Schema.OptionsTag.split, vtable: [4], inline: le([Int32(ranges.count)]), alignmentPhase: 0)
                split = Op(kind: .builtin(.split, options: options), inputs: [axisID, x], outputs: outputs, provenance: provenance)
            } else {
                // SplitVOptions { num_splits: int } (schema.fbs, tag 79): data, sizes, axis.
                let sizesID = r.sharedConstant(ConstantTensor(.int32, shape: [Int32(sizes.count)], values: sizes), name: "\(r[x].name)/split_sizes")
                let options = OpaqueOptions(typeTag: 79, vtable: [4], inline: le([Int32(ranges.count)]), alignmentPhase: 0)
                split = Op(kind: .builtin(.splitV, options: options), inputs: [x, sizesID, axisID], outputs: outputs, provenance: provenance)
            }
            split.version = OpVersions.minimum(split, in: r.graph, model: r.model)?.version ?? 1
            r.addOp(split)
            return true
        }
        return false
    }
}
