import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Static shapes of tensors upstream of a cut (`--input-arrays NAME` without a shape), where the
// importer lowers nothing. Besides Placeholder/Const/Identity it knows the KWS audio front
// end, from the ops' attributes (TensorFlow's kernels, restated):
//
// - DecodeWav: `audio` is [desired_samples, desired_channels] (−1 = "as in the file",
//   which a static shape cannot know); `sample_rate` is a scalar.
// - AudioSpectrogram (spectrogram_op.cc): input [samples, channels] → [channels,
//   frames, bins], frames = 1 + (samples − window_size) / stride (integer division; 0
//   when samples < window_size), bins = NextPowerOfTwo(window_size) / 2 + 1.
// - Mfcc (mfcc_op.cc): spectrogram [channels, frames, bins] → [channels, frames,
//   dct_coefficient_count] (default 13).
//
// So DNN_S (window 640, stride 640, 16000 samples, 10 coefficients) gives [1, 25, 10] and
// the others (stride 320) [1, 49, 10]. Other ops take their `_output_shapes` attribute when
// the graph has one, or else the upstream subgraph is lowered on its own to read the shape.

package struct GraphDefShapeInference {
    package let topology: GraphDefTopology
    private var memo: [TFTensorRef: [Int]?] = [:]
    private var visiting = Set<TFTensorRef>()
    /// Why a shape could not be inferred, when a node's attributes make it impossible.
    private(set) var problems: [String] = []

    package init(topology: GraphDefTopology) { self.topology = topology }

    /// The static shape of `ref`, nil when it cannot be known without running the graph.
    package mutating func shape(of ref: TFTensorRef) -> [Int]? {
        if let known = memo[ref] { return known }
        // A cycle, or a chain deep enough to threaten the stack: give up (the user can pass SHAPE).
        guard visiting.count < 2000, visiting.insert(ref).inserted else { return nil }
        let result = compute(ref)
        visiting.remove(ref)
        memo[ref] = result
        return result
    }

    private mutating func inputShape(_ node: TFNodeDef, _ k: Int) -> [Int]? {
        let data = node.inputs.filter { !$0.hasPrefix("^") }
        guard k < data.count, let ref = TFTensorRef(parsing: data[k]) else { return nil }
        return shape(of: ref)
    }

    private mutating func compute(_ ref: TFTensorRef) -> [Int]? {
        guard let node = topology.node(ref.node) else { return nil }
        switch node.op {
        case "Placeholder":
            guard ref.index == 0, let dims = try? node.attrShape("shape")?.dims else { return nil }
            var d = dims
            if let first = d.first, first < 0 { d[0] = 1 }
            return d.allSatisfy { $0 >= 0 } ? d.map { Int($0) } : nil
        case "Const":
            guard ref.index == 0, let t = try? node.attrTensor("value"), let dims = t.shape.dims else { return nil }
            return dims.map { Int($0) }
        case "Identity", "Snapshot", "StopGradient", "PreventGradient":
            return ref.index == 0 ? inputShape(node, 0) : nil
        case "DecodeWav":
            if ref.index == 1 { return [] }
            guard ref.index == 0, let samples = try? node.attrInt("desired_samples", default: -1),
                let channels = try? node.attrInt("desired_channels", default: -1), samples > 0, channels > 0
            else { return nil }
            return [samples, channels]
        case "AudioSpectrogram":
            guard ref.index == 0, let input = inputShape(node, 0), input.count == 2,
                let window = try? node.attrInt("window_size"), let stride = try? node.attrInt("stride"),
                window > 0, stride > 0
            else { return nil }
            // TF's kernel sizes the FFT with NextPowerOfTwo on an int32 (spectrogram.cc), so a
            // window past 2^30 has no FFT size; checking first also keeps the doubling below
            // from overflowing.
            guard window <= 1 << 30 else {
                problems.append("AudioSpectrogram '\(node.name)' has window_size \(window), more than 2^30")
                return nil
            }
            let frames = input[0] < window ? 0 : 1 + (input[0] - window) / stride
            var fft = 1
            while fft < window { fft *= 2 }
            return [input[1], frames, fft / 2 + 1]
        case "Mfcc":
            guard ref.index == 0, let spectrogram = inputShape(node, 0), spectrogram.count == 3,
                let coefficients = try? node.attrInt("dct_coefficient_count", default: 13), coefficients > 0
            else { return nil }
            return [spectrogram[0], spectrogram[1], coefficients]
        default:
            if case .list(let l)? = node.attrs["_output_shapes"], ref.index < l.shape.count,
                let dims = l.shape[ref.index].dims, dims.allSatisfy({ $0 >= 0 })
            {
                return dims.map { Int($0) }
            }
            // Lower the upstream subgraph on its own and read the shape it gives.
            guard GraphDefLowering.isSupported(node.op) else { return nil }
            var lowering = GraphDefLowering(topology: topology)
            guard (try? lowering.run(GraphDefImportOptions(outputs: [.init(tensor: ref)]))) != nil,
                let v = lowering.model.subgraphs[0].outputs.first
            else { return nil }
            return lowering.model.subgraphs[0].values[v.index].shape.map { Int($0) }
        }
    }
}
