import FlatBuffers
import IR
import Ops
import Support
import TFProto

// AvgPool / MaxPool → AVERAGE_POOL_2D / MAX_POOL_2D (filter from ksize[1..2]); Mean →
// MEAN with int32 axes (TF's op definitions). TF's SAME average pooling divides by the number of
// valid (unpadded) cells, as TFLite's does, so the attributes carry over unchanged.

extension GraphDefLowering {
    package mutating func lowerPool(_ node: TFNodeDef, _ inputs: [ValueID], average: Bool) throws -> [ValueID?] {
        try node.requireNHWC()
        // Zero padding would change a max, so EXPLICIT is refused for pooling.
        let window = try WindowAttributes(node, allowExplicit: false, dilations: false)
        guard let k = try node.attrInts("ksize"), k.count == 4, k.allSatisfy({ $0 >= 1 }), k[0] == 1, k[3] == 1 else {
            throw node.invalid("ksize must be [1,kh,kw,1] with positive sizes")
        }
        let (x, xs) = try windowInput(node, inputs, window)
        let shape = try convOutputShape(node, xs, window, kernelH: Int32(k[1]), kernelW: Int32(k[2]), channels: xs[3])
        let attrs = Pool2DAttributes(padding: window.padding, strideW: Int32(window.strideW), strideH: Int32(window.strideH), filterW: Int32(k[2]), filterH: Int32(k[1]))
        return [emit(average ? .averagePool2D(attrs) : .maxPool2D(attrs), [x], node: node, dtype: .float32, shape: shape)]
    }

    package mutating func lowerMean(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try floatInput(inputs, 0, node)
        let xs = value(x).shape
        let keepDims = try node.attrBool("keep_dims", default: false)
        var axes: [Int] = []
        for a in try integerInput(inputs, 1, node, "the reduction axes") {
            let axis = a < 0 ? a + xs.count : a
            guard axis >= 0, axis < xs.count else { throw node.invalid("axis \(a) is out of range for rank \(xs.count)") }
            if !axes.contains(axis) { axes.append(axis) }
        }
        if axes.isEmpty { return [x] }  // TF reduces over nothing: the input itself
        var shape: [Int32] = []
        for (d, size) in xs.enumerated() {
            if axes.contains(d) {
                if keepDims { shape.append(1) }
            } else {
                shape.append(size)
            }
        }
        let axesValue = int32Constant(axes, name: value(inputs[1]).name, node: node)
        return [emit(.mean(keepDims: keepDims), [x, axesValue], node: node, dtype: .float32, shape: shape)]
    }
}
