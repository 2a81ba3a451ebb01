import IR
import Ops
import Rewrite

/// Drops a RESHAPE that only adds or removes leading 1s before ADD, SUB or MUL: those broadcast
/// their operands right-aligned (LiteRT's kernels/add.cc, TFLM's add.cc/sub.cc/mul.cc call the
/// broadcast kernels with the shapes padded by leading 1s), so reading the RESHAPE's input
/// pairs every element with the same partner and computes the same bits, and TFLM has one op
/// and one tensor less to hold (a node, its options, a `TfLiteEvalTensor`, an `AllocationInfo`
/// and planner record). TF's converter leaves one such RESHAPE per step of an unrolled LSTM
/// (the recurrent projection's [1,64] squeezed to [64] before it is added to [1,64]).
///
/// Given:
///
///     #0 FULLY_CONNECTED (%h, %w) -> %p: i8[1,64]
///     #1 RESHAPE (%p, %shape) -> %q: i8[64]
///     #2 ADD (%x, %q) -> %s: i8[1,64]
///
/// Result:
///
///     #0 FULLY_CONNECTED (%h, %w) -> %p: i8[1,64]
///     #2 ADD (%x, %p) -> %s: i8[1,64]
///
/// Applies when the shapes are static and equal without their leading 1s, the element types
/// (quantization included) are equal, the RESHAPE's output is not a graph output, every reader
/// is ADD, SUB or MUL, each reader's output keeps its shape, and no operand exceeds 4
/// dimensions (the broadcast every TFLM version has).
public struct ReshapeIntoBroadcast: PatternPass {
    public static let name = "reshape-into-broadcast"
    public static let summary = "drop a RESHAPE that only changes leading 1s before ADD/SUB/MUL (they broadcast); outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    static let broadcastingReaders: Set<BuiltinOperator> = [.add, .sub, .mul]

    private static func withoutLeadingOnes(_ shape: [Int32]) -> ArraySlice<Int32> { shape.drop { $0 == 1 } }

    public static let pattern = Pattern(name: name, rootKinds: [.reshape]) { r, id in
        let op = r[id]
        guard op.outputs.count == 1, let x = op.input(0), let y = op.outputs.first, !r[x].isDynamic, !r[y].isDynamic,
            r[x].type == r[y].type, r[x].hasRank, r[x].rank <= 4, !r.graph.isGraphOutput(y),
            r[x].shape != r[y].shape, withoutLeadingOnes(r[x].shape) == withoutLeadingOnes(r[y].shape)
        else { return false }
        let uses = r.uses(of: y)
        guard !uses.isEmpty else { return false }
        for (reader, operand) in uses {
            let consumer = r[reader]
            guard broadcastingReaders.contains(consumer.builtinOperator), consumer.inputs.count == 2, consumer.outputs.count == 1,
                let other = consumer.input(1 - operand), !r[other].isDynamic, r[other].rank <= 4
            else { return false }
            let operands = operand == 0 ? (r[x].shape, r[other].shape) : (r[other].shape, r[x].shape)
            guard let shape = ConstantEvaluator.broadcastShape(operands.0, operands.1), shape == r[consumer.outputs[0]].shape else { return false }
        }
        r.replaceAllUses(of: y, with: x)
        r.erase(id)
        return true
    }
}
