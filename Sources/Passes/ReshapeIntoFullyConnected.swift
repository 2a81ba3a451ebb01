import IR
import Ops
import Rewrite

/// Drops a RESHAPE that flattens a FULLY_CONNECTED's input: without keep_num_dims the kernel
/// reads its input as a flat [batch, input size] array whatever its rank (TFLM's
/// fully_connected.cc and LiteRT's kernels/fully_connected.cc take the batch count from the
/// element count), so reading the RESHAPE's input computes the same bits, and TFLM has one op
/// and one tensor less to hold (a node, its options, a `TfLiteEvalTensor`, an `AllocationInfo`
/// and a planner record; Docs/memory.md). Keras's Flatten before a Dense layer leaves one.
///
/// Given:
///
///     #0 RESHAPE (%x: i8[1,4,64], %shape) -> %y: i8[1,256]
///     #1 FULLY_CONNECTED (%y, %w: i8[10,256], %b) -> %z: i8[1,10]
///
/// Result:
///
///     #1 FULLY_CONNECTED (%x, %w, %b) -> %z: i8[1,10]
///
/// Applies when the shapes are static, the element types (quantization included) are equal,
/// the input's element count is a multiple of the weights' input size, the output keeps its
/// shape and keep_num_dims is off. The RESHAPE stays while something else reads it.
public struct ReshapeIntoFullyConnected: PatternPass {
    public static let name = "reshape-into-fully-connected"
    public static let summary = "a FULLY_CONNECTED reads through a RESHAPE that flattens its input (it flattens itself); outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.fullyConnected]) { r, id in
        let fc = r[id]
        guard case .fullyConnected(let attributes) = fc.kind, !attributes.keepNumDims, attributes.weightsFormat == 0,
            let y = fc.input(0), let w = fc.input(1), let reshape = r.producer(of: y), case .reshape = r[reshape].kind,
            let x = r[reshape].input(0), !r[x].isDynamic, !r[y].isDynamic, r[x].hasRank, r[x].type == r[y].type,
            r[w].rank == 2, !r[w].isDynamic, let size = Value.elementCount(r[x].shape), size == Value.elementCount(r[y].shape),
            r[w].shape[1] > 0, size % Int(r[w].shape[1]) == 0, fc.outputs.count == 1,
            r[fc.outputs[0]].shape == [Int32(size / Int(r[w].shape[1])), r[w].shape[0]]
        else { return false }
        r[id].inputs[0] = x
        if r.useCount(of: y) == 0 && !r.graph.isGraphOutput(y) { r.erase(reshape) }
        return true
    }
}
