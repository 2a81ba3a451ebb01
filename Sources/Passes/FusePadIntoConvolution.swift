import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Turns a zero PAD feeding a VALID CONV_2D or DEPTHWISE_CONV_2D into SAME padding when the two
/// compute the same thing, as TF's converter does (TF's prepare_tf.cc and optimize_patterns.td, FuseSamePaddingConv2D:
/// Keras ZeroPadding2D((0,1),(0,1)) before a stride-2 VALID depthwise becomes a SAME
/// depthwise). MobileNet graphs have one such PAD per downsampling block.
///
/// Given:
///
///     const %1: i32[4,2] = [0, 0, 0, 1, 0, 1, 0, 0]
///     #0 PAD v1 (%0, %1) -> %2 "pad": f32[1,113,113,32]
///     #1 DEPTHWISE_CONV_2D v1 {padding=VALID, stride=2x2, dilation=1x1, depth_multiplier=1} (%2, %3, %4) -> %5: f32[1,56,56,32]
///
/// Result (input %0 is [1,112,112,32]):
///
///     #1 DEPTHWISE_CONV_2D v1 {padding=SAME, stride=2x2, dilation=1x1, depth_multiplier=1} (%0, %3, %4) -> %5: f32[1,56,56,32]
///
/// SAME pads ⌊total/2⌋ before and the rest after, total = max(0, (out−1)·stride + eff_k − in),
/// out = ⌈in/stride⌉ (TF's op definitions). The rewrite applies per spatial axis when the PAD puts
/// exactly ⌊total/2⌋ before and the VALID output size equals SAME's (so padding after beyond
/// SAME's is never read), with no batch or channel padding, and the PAD's output has no
/// other reader.
public struct FusePadIntoConvolution: ConditionalPatternPass {
    public static let name = "fuse-pad-into-conv"
    public static let summary = "PAD + VALID CONV_2D/DEPTHWISE_CONV_2D → SAME padding when equivalent"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.conv2D, .depthwiseConv2D]) { r, id in
        let op = r[id]
        guard let field = OperatorTable[op.builtinOperator]?.window, let window = field.get(op.kind) else { return false }
        let (strides, dilations) = (window.strides, window.dilations)
        guard window.padding == .valid, let padded = op.input(0), let w = op.input(1), r[w].rank == 4,
            let y = op.outputs.first, r[y].rank == 4, r.hasSingleUse(padded),
            let p = r.producer(of: padded), case .pad = r[p].kind, r[p].outputs == [padded],
            let x = r[p].input(0), let pv = r[p].input(1), let pads = r.constant(pv)?.integers, pads.count == 8,
            r[x].rank == 4, !r[x].isDynamic, r[x].type == r[padded].type,
            pads[0] == 0, pads[1] == 0, pads[6] == 0, pads[7] == 0
        else { return false }
        // Kernel size: OHWI and 1HWO both keep height and width at dims 1 and 2.
        let kernel = (Int(r[w].shape[1]), Int(r[w].shape[2]))
        func matchesSame(_ input: Int, _ before: Int64, _ output: Int32, _ k: Int, _ s: Int, _ d: Int) -> Bool {
            let out = (input + s - 1) / s
            let total = max(0, (out - 1) * s + (k - 1) * d + 1 - input)
            return before == Int64(total / 2) && Int(output) == out
        }
        guard matchesSame(Int(r[x].shape[1]), pads[2], r[y].shape[1], kernel.0, strides.0, dilations.0),
            matchesSame(Int(r[x].shape[2]), pads[4], r[y].shape[2], kernel.1, strides.1, dilations.1)
        else { return false }
        field.setPadding(&r[id].kind, .same)
        r[id].inputs[0] = x
        r[id].provenance = r[p].provenance + r[id].provenance.filter { !r[p].provenance.contains($0) }
        r.erase(p)
        return true
    }
}
