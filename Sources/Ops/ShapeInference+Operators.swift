import IR
import Kernels

/// Shape-function building blocks shared by several operators (each operator's own rule stays
/// in its declaration under Sources/Ops/Operators).
extension ShapeInference {
    /// The raw options table of an op the IR keeps opaque (`.builtin(_, options:)`); nil for
    /// typed ops and ops without options.
    package var opaqueOptions: OpaqueOptions? {
        if case .builtin(_, let options) = op.kind { return options }
        return nil
    }

    /// An opaque option byte read as a flag (schema.fbs bools; absent = false).
    package func flag(_ id: Int) -> Bool { (opaqueOptions?.int8(id, default: 0) ?? 0) != 0 }

    /// An opaque int32 option (absent = 0).
    package func int32Option(_ id: Int) -> Int32 { opaqueOptions?.int32(id, default: 0) ?? 0 }

    /// LiteRT kernels/reduce.cc ResizeOutputTensor (MEAN, SUM, REDUCE_MAX/MIN/PROD/ANY/ALL): each
    /// axis of input 1 (negative counts from the end, repeats count once) becomes 1 with
    /// keep_dims, else is dropped.
    package func reduced(keepDims: Bool) -> [[Int32]]? {
        guard let x = shape(0), let axes = constant(1) else { return nil }
        var isReduced = [Bool](repeating: false, count: x.count)
        for a in axes.values {
            guard let axis = ShapeMath.axis(a, rank: x.count) else { return nil }
            isReduced[axis] = true
        }
        if keepDims { return [x.indices.map { isReduced[$0] ? 1 : x[$0] }] }
        return [x.indices.filter { !isReduced[$0] }.map { x[$0] }]
    }

    /// Input `k` as a constant vector of dimensions (each 0…Int32.max).
    package func dimensions(_ k: Int) -> [Int32]? {
        guard let v = constant(k)?.values else { return nil }
        var dims: [Int32] = []
        for d in v {
            guard let dim = ShapeMath.dim(d) else { return nil }
            dims.append(dim)
        }
        return dims
    }

    /// Numpy broadcasting of every input's shape (SELECT_V2's three operands).
    package var broadcastAll: [[Int32]]? {
        guard let shapes = allShapes, var out = shapes.first else { return nil }
        for s in shapes.dropFirst() {
            guard let b = ConstantEvaluator.broadcastShape(out, s) else { return nil }
            out = b
        }
        return [out]
    }
}
