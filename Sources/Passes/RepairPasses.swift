import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

extension PassRegistry {
    /// Passes that repair .tflite models for a target runtime (rules files, `--rules`).
    package static var repairPasses: [Entry] {
        [
            entry(ConvToDepthwise.self) { options in try ConvToDepthwise(options: options) },
            entry(DepthwiseToConv.self) { options in try DepthwiseToConv(options: options) },
            entry(UngroupConv.self) { options in try UngroupConv(options: options) },
            entry(PerTensorFullyConnected.self) { options in try PerTensorFullyConnected(options: options) },
            entry(ExpandDimsToReshape.self) { options in try ExpandDimsToReshape(options: options) },
            entry(FoldShapes.self) { options in try FoldShapes(options: options) },
            entry(FuseLstmLoop.self) { options in try FuseLstmLoop(options: options) },
            entry(UnrollWhile.self) { options in try UnrollWhile(options: options) },
            entry(InlineConstantIf.self) { options in try InlineConstantIf(options: options) },
            entry(Int8IO.self) { options in try Int8IO(options: options) },
            entry(FoldNormalizationIntoInputQuantization.self) { options in try FoldNormalizationIntoInputQuantization(options: options) },
            entry(FoldInputNormalizationForInt8.self) { options in try FoldInputNormalizationForInt8(options: options) },
            entry(DensifySparseConstants.self) { options in try DensifySparseConstants(options: options) },
            entry(FoldFloat16Constants.self) { options in try FoldFloat16Constants(options: options) },
            entry(DequantizeHybridWeights.self) { options in try DequantizeHybridWeights(options: options) },
            entry(SplitConcatFullyConnected.self) { options in try SplitConcatFullyConnected(options: options) },
            entry(SplitFullyConnectedGates.self) { options in try SplitFullyConnectedGates(options: options) },
            entry(Cleanup.self) { options in try Cleanup(options: options) },
            entry(Strip.self) { options in try Strip(options: options) },
            entry(OptimizeMemory.self) { options in try OptimizeMemory(options: options) },
            entry(PatchEarlyStage.self) { options in try PatchEarlyStage(options: options) },
            entry(MergeIdenticalConstants.self) { options in try MergeIdenticalConstants(options: options) },
            entry(ReshapeIntoBroadcast.self) { options in try ReshapeIntoBroadcast(options: options) },
            entry(UnpackGathers.self) { options in try UnpackGathers(options: options) },
            entry(ConvAsFullyConnected.self) { options in try ConvAsFullyConnected(options: options) },
            entry(ReshapeIntoFullyConnected.self) { options in try ReshapeIntoFullyConnected(options: options) },
            entry(StridedSliceAsSlice.self) { options in try StridedSliceAsSlice(options: options) },
            entry(SlicesAsSplit.self) { options in try SlicesAsSplit(options: options) },
            entry(ConcatenateBeforeQuantize.self) { options in try ConcatenateBeforeQuantize(options: options) },
            entry(LegalizeOpVersions.self) { options in try LegalizeOpVersions(options: options) },
            entry(CheckTarget.self) { options in try CheckTarget(options: options) },
        ]
    }
}
