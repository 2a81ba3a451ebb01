import FlatBuffers
import IR
import Kernels

// Ops that rearrange or select elements: SPACE_TO_DEPTH, DEPTH_TO_SPACE, SPACE_TO_BATCH_ND,
// BATCH_TO_SPACE_ND, BROADCAST_TO, REVERSE_V2, GATHER_ND, EMBEDDING_LOOKUP, FILL, ZEROS_LIKE,
// SELECT_V2, DYNAMIC_UPDATE_SLICE (TFLM kernels of the same names; options from schema.fbs;
// versions from LiteRT's op_version.cc).
extension OperatorTable {
    static let layoutOperators = [
        spaceToDepth, depthToSpace, spaceToBatchND, batchToSpaceND, broadcastTo, reverseV2, gatherND,
        embeddingLookup, fill, zerosLike, selectV2, dynamicUpdateSlice,
    ]

    /// SpaceToDepthOptions / DepthToSpaceOptions field 0: block_size.
    static let spaceToDepth = OperatorDefinition(
        .spaceToDepth,
        version: int8InputVersion,
        kernel: { c in try IndexMapKernel.spaceToDepth(c, blockSize: Int(try opaqueOptions(c)?.int32(0, default: 0) ?? 0)) },
        // space_to_depth.cc Prepare: [b, h/bs, w/bs, c·bs²], h and w divisible by bs.
        shape: { s in
            let bs = s.int32Option(0)
            guard bs > 0, let x = s.shape(0), x.count == 4, x[1] % bs == 0, x[2] % bs == 0,
                  let c = ShapeMath.product([x[3], bs, bs]) else { return nil }
            return [[x[0], x[1] / bs, x[2] / bs, c]]
        }
    )
    static let depthToSpace = OperatorDefinition(
        .depthToSpace,
        version: int8InputVersion,
        kernel: { c in try IndexMapKernel.depthToSpace(c, blockSize: Int(try opaqueOptions(c)?.int32(0, default: 0) ?? 0)) },
        // depth_to_space.cc Prepare: [b, h·bs, w·bs, c/bs²], c divisible by bs².
        shape: { s in
            let bs = s.int32Option(0)
            guard bs > 0, let x = s.shape(0), x.count == 4, let square = ShapeMath.product([bs, bs]), x[3] % square == 0,
                  let h = ShapeMath.product([x[1], bs]), let w = ShapeMath.product([x[2], bs]) else { return nil }
            return [[x[0], h, w, x[3] / square]]
        }
    )
    static let spaceToBatchND = OperatorDefinition(.spaceToBatchND, version: spaceBatchVersion, kernel: { c in try IndexMapKernel.spaceToBatch(c) },
                                                   shape: { spaceBatchShape($0, toBatch: true) })
    static let batchToSpaceND = OperatorDefinition(.batchToSpaceND, version: spaceBatchVersion, kernel: { c in try IndexMapKernel.batchToSpace(c) },
                                                   shape: { spaceBatchShape($0, toBatch: false) })
    /// broadcast_to.cc ResizeOutputTensor: the constant shape, which the input must broadcast to.
    static let broadcastTo = OperatorDefinition(
        .broadcastTo, kernel: { c in try IndexMapKernel.broadcastTo(c) },
        shape: { s in
            guard let x = s.shape(0), let target = s.dimensions(1), x.count <= target.count,
                  ConstantEvaluator.broadcastShape(x, target) == target else { return nil }
            return [target]
        })
    static let reverseV2 = OperatorDefinition(.reverseV2, kernel: { c in try IndexMapKernel.reverse(c) }, shape: { $0.sameAsInput })
    /// gather_nd.cc Prepare: indices [..., n] pick slices of params' first n dimensions:
    /// indices.shape[:-1] + params.shape[n:].
    static let gatherND = OperatorDefinition(
        .gatherND, kernel: { c in try IndexMapKernel.gatherND(c) },
        shape: { s in
            guard let params = s.shape(0), let indices = s.shape(1), let n = indices.last, n >= 1, Int(n) <= params.count else { return nil }
            return [Array(indices.dropLast()) + params.dropFirst(Int(n))]
        })
    /// embedding_lookup.cc Prepare: one row of the value table (input 1) per id (input 0, 1-D).
    static let embeddingLookup = OperatorDefinition(
        .embeddingLookup, kernel: { c in try IndexMapKernel.embeddingLookup(c) },
        shape: { s in
            guard let ids = s.shape(0), ids.count == 1, let table = s.shape(1), table.count >= 1 else { return nil }
            return [[ids[0]] + table.dropFirst()]
        })
    /// fill.cc: the constant dimensions of input 0.
    static let fill = OperatorDefinition(.fill, kernel: { c in try FillKernel(c) }, shape: { s in s.dimensions(0).map { [$0] } })
    static let zerosLike = OperatorDefinition(.zerosLike, kernel: { c in try ZerosLikeKernel(c) }, shape: { $0.sameAsInput })
    /// select.cc (SELECT_V2): condition, x and y broadcast together.
    static let selectV2 = OperatorDefinition(.selectV2, kernel: { c in try SelectKernel(c) }, shape: { $0.broadcastAll })

    /// space_to_batch_nd.cc / batch_to_space_nd.cc ResizeOutputTensor, input [batch, spatial…,
    /// rest…] with block_shape (input 1, one per spatial dimension) and paddings or crops
    /// (input 2, [spatial, 2]): to batch, each padded spatial size divided by its block (which
    /// must divide it) and the batch times their product; back, each spatial size times its
    /// block less the crops, the batch divided by the product.
    @Sendable static func spaceBatchShape(_ s: ShapeInference, toBatch: Bool) -> [[Int32]]? {
        guard let x = s.shape(0), let block = s.constant(1)?.values, let edges = s.constant(2)?.values,
              !block.isEmpty, x.count >= block.count + 1, edges.count == 2 * block.count else { return nil }
        var out = x.map(Int64.init)
        var blocks: Int64 = 1
        for (i, b) in block.enumerated() {
            let (before, after) = (edges[2 * i], edges[2 * i + 1])
            guard b > 0, before >= 0, after >= 0, b <= Int64(Int32.max) else { return nil }
            blocks *= b
            guard blocks <= Int64(Int32.max) else { return nil }
            if toBatch {
                let padded = out[i + 1] + before + after
                guard padded % b == 0 else { return nil }
                out[i + 1] = padded / b
            } else {
                out[i + 1] = out[i + 1] * b - before - after
            }
        }
        if toBatch { out[0] *= blocks } else {
            guard out[0] % blocks == 0 else { return nil }
            out[0] /= blocks
        }
        var dims: [Int32] = []
        for d in out {
            guard let v = ShapeMath.dim(d) else { return nil }
            dims.append(v)
        }
        return [dims]
    }
    static let dynamicUpdateSlice = OperatorDefinition(.dynamicUpdateSlice, kernel: { c in try DynamicUpdateSliceKernel(c) }, shape: { $0.sameAsInput })
}
