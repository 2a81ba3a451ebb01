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
        kernel: { c in try IndexMapKernel.spaceToDepth(c, blockSize: Int(try opaqueOptions(c)?.int32(0, default: 0) ?? 0)) }
    )
    static let depthToSpace = OperatorDefinition(
        .depthToSpace,
        version: int8InputVersion,
        kernel: { c in try IndexMapKernel.depthToSpace(c, blockSize: Int(try opaqueOptions(c)?.int32(0, default: 0) ?? 0)) }
    )
    static let spaceToBatchND = OperatorDefinition(.spaceToBatchND, version: spaceBatchVersion, kernel: { c in try IndexMapKernel.spaceToBatch(c) })
    static let batchToSpaceND = OperatorDefinition(.batchToSpaceND, version: spaceBatchVersion, kernel: { c in try IndexMapKernel.batchToSpace(c) })
    static let broadcastTo = OperatorDefinition(.broadcastTo, kernel: { c in try IndexMapKernel.broadcastTo(c) })
    static let reverseV2 = OperatorDefinition(.reverseV2, kernel: { c in try IndexMapKernel.reverse(c) })
    static let gatherND = OperatorDefinition(.gatherND, kernel: { c in try IndexMapKernel.gatherND(c) })
    static let embeddingLookup = OperatorDefinition(.embeddingLookup, kernel: { c in try IndexMapKernel.embeddingLookup(c) })
    static let fill = OperatorDefinition(.fill, kernel: { c in try FillKernel(c) })
    static let zerosLike = OperatorDefinition(.zerosLike, kernel: { c in try ZerosLikeKernel(c) }, shape: { $0.sameAsInput })
    static let selectV2 = OperatorDefinition(.selectV2, kernel: { c in try SelectKernel(c) })
    static let dynamicUpdateSlice = OperatorDefinition(.dynamicUpdateSlice, kernel: { c in try DynamicUpdateSliceKernel(c) }, shape: { $0.sameAsInput })
}
