import FlatBuffers
import IR
import Rewrite

/// Makes ops that read equal constants read one tensor. TFLM gives every tensor of a subgraph a
/// `TfLiteEvalTensor` that stays for good and, while it plans, an `AllocationInfo` record
/// (micro_allocator.cc `AllocateTfLiteEvalTensors`, micro_allocation_info.cc
/// `AllocationInfoBuilder::CreateAllocationInfo`: constants included), so duplicate constants
/// cost arena even when `cleanup` already shares their buffer: 24 + 32 bytes each on a 64-bit
/// build. Unrolled recurrent models repeat their per-step biases and index constants.
///
/// Given (two steps of an unrolled cell, each with its own copy of the bias):
///
///     %5: i8[64] scale 0.0091 zp -81 = buffer 19 (64 bytes)
///     %6: i8[64] scale 0.0091 zp -81 = buffer 21 (the same 64 bytes)
///     #0 ADD (%1, %5) -> %7
///     #1 ADD (%8, %6) -> %9
///
/// Result:
///
///     #0 ADD (%1, %5) -> %7
///     #1 ADD (%8, %5) -> %9        (%6 is gone)
///
/// Equal means the same bytes, element type (quantization included), shape, shape signature
/// and no sparsity; variables, graph inputs and outputs and tensors of models whose metadata
/// names tensors by index (`OfflineMemoryAllocation`) are left alone. Every op reads the same
/// bytes with the same parameters as before, so outputs are bit-identical.
public struct MergeIdenticalConstants: GraphPass {
    public static let name = "merge-identical-constants"
    public static let summary = "ops that read equal constant tensors read one of them (fewer TFLM tensors); outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    private struct Key: Hashable {
        let bytes: ByteSlice
        let type: ElementType
        let shape: [Int32]
        let shapeSignature: [Int32]?
        let hasRank: Bool
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        guard !model.pinsTensorIndices else { return false }
        var changed = false
        for s in model.subgraphs.indices {
            var graph = model.subgraphs[s]
            let pinned = Set(graph.inputs + graph.outputs)
            var first: [Key: ValueID] = [:]
            var merged = 0
            for (i, v) in graph.values.enumerated() {
                let id = ValueID(i)
                guard !v.isVariable, v.sparsity == nil, !pinned.contains(id), v.buffer.index > 0, v.buffer.index < model.buffers.count,
                    let bytes = model.buffers[v.buffer.index].data, !bytes.isEmpty
                else { continue }
                let key = Key(bytes: bytes, type: v.type, shape: v.shape, shapeSignature: v.shapeSignature, hasRank: v.hasRank)
                guard let kept = first[key] else {
                    first[key] = id
                    continue
                }
                graph.replaceAllUses(of: id, with: kept)
                merged += 1
            }
            guard merged > 0 else { continue }
            model.subgraphs[s] = graph
            model.compactValues(inSubgraph: s)
            context.count("\(Self.name).tensors-merged", merged)
            changed = true
        }
        if changed { model.removeUnusedBuffers() }
        return changed
    }
}
