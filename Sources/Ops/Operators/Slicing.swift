import FlatBuffers
import IR
import Kernels

// Cutting tensors apart: SLICE, SPLIT, SPLIT_V and UNPACK (schema.fbs; LiteRT's op_version.cc for
// the versions; TFLM slice.cc, split.cc, split_v.cc, unpack.cc for the kernels and shapes).
extension OperatorTable {
    static let slicingOperators: [OperatorDefinition] = [
        OperatorDefinition(.slice, version: { s in
            s.first([
                (s.input(0) == .int4, 7, "int4 input"),
                (s.input(0) == .uint32, 6, "uint32 input"),
                (s.rank(0) > 4, 5, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .int16, 4, "int16 input"),
                (s.input(0) == .string, 3, "string input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        }, kernel: { c in try SliceKernel(c) }, shape: sliceShape, microFootprint: { _ in
            // slice.cc: no Init; Prepare reads input, begin, size, output. ParseSlice allocates
            // nothing.
            MicroKernelFootprint()
        }),
        OperatorDefinition(.split, version: { s in
            // The data is input 1; input 0 is the axis.
            s.first([
                (s.input(1) == .int16, 4, "int16 input"),
                (s.input(1) == .int32, 3, "int32 input"),
                (s.input(1) == .int8, 2, "int8 input"),
            ])
        }, quantization: { _, _ in
            // split.cc copies int8 bytes unchanged: every output keeps the data's scale and zero
            // point (quantization_spec.md SPLIT: "restriction: same as input"); the axis stays int32.
            // int16 is copied the same way (split.cc SplitImpl<int16_t>).
            .init(roles: [.passThrough, .activation], output: .sameAsAllInputs, int16: true)
        }, kernel: { c in try SplitKernel(c, .split) }, shape: { s in
            // split.cc: the data (input 1) cut into equal pieces along the constant axis (input 0).
            guard let axis = s.constant(0)?.values, axis.count == 1 else { return nil }
            return pieces(s.shape(1), axis: axis[0], sizes: nil, count: s.op.outputs.count, keepAxis: true)
        }, microFootprint: { _ in
            // split.cc: no Init; Prepare reads the axis (input 0). TfLiteSplitParams: num_splits.
            MicroKernelFootprint(builtinData: .options(ints: 1), tempTensors: [.input(0)])
        }),
        OperatorDefinition(.unpack, version: { s in
            s.first([
                (s.input(0) == .int8 || s.input(0) == .uint8, 2, "\(s.name(s.input(0))) input"),
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int16 && s.output(0) == .int16, 4, "int16 input and output"),
                (s.input(0) == .float16 || s.input(0) == .bfloat16, 5, "\(s.name(s.input(0))) input"),
            ])
        }, quantization: { _, _ in
            // unpack.cc copies int8 (and int16: UnpackImpl<int16_t>) bytes unchanged: the outputs
            // keep the input's parameters.
            .init(roles: [.activation], output: .sameAsInput, int16: true)
        }, kernel: { c in
            // UnpackOptions: 0 num, 1 axis.
            guard case .builtin(_, let options) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try SplitKernel(c, .unpack(axis: options?.int32(1, default: 0) ?? 0))
        }, shape: { s in
            // unpack.cc: the input without the axis dimension, once per slice along it.
            guard case .builtin(_, let options) = s.op.kind else { return nil }
            return pieces(s.shape(0), axis: Int64(options?.int32(1, default: 0) ?? 0), sizes: nil, count: s.op.outputs.count, keepAxis: false)
        }, microFootprint: { _ in
            // unpack.cc: no Init, no Prepare. TfLiteUnpackParams: num, axis.
            MicroKernelFootprint(builtinData: .options(ints: 2), tempTensors: [])
        }),
        OperatorDefinition(.splitV, version: int8InputVersion, quantization: { _, _ in
            // split_v.cc copies int8 bytes unchanged, like SPLIT; sizes and axis stay int32.
            .init(roles: [.activation, .passThrough, .passThrough], output: .sameAsInput)
        }, kernel: { c in try SplitKernel(c, .splitV) }, shape: { s in
            // split_v.cc: the sizes (input 1, one −1 for the rest) along the constant axis (input 2).
            guard let sizes = s.vector(1), let axis = s.constant(2)?.values, axis.count == 1 else { return nil }
            return pieces(s.shape(0), axis: axis[0], sizes: sizes, count: s.op.outputs.count, keepAxis: true)
        }, microFootprint: { _ in
            // split_v.cc: no Init; Prepare reads the axis (input 2). TfLiteSplitVParams: num_splits.
            MicroKernelFootprint(builtinData: .options(ints: 1), tempTensors: [.input(2)])
        }),
    ]

    /// slice.cc Prepare: each dimension's size, −1 meaning from begin to the end.
    static let sliceShape: @Sendable (ShapeInference) -> [[Int32]]? = { s in
        guard let x = s.shape(0), let begin = s.vector(1), let size = s.vector(2), begin.count == x.count, size.count == x.count else { return nil }
        var out: [Int32] = []
        for (d, dim) in x.enumerated() {
            let extent = size[d] == -1 ? Int64(dim) - begin[d] : size[d]
            guard begin[d] >= 0, extent >= 0, begin[d] + extent <= Int64(dim), let e = ShapeMath.dim(extent) else { return nil }
            out.append(e)
        }
        return [out]
    }

    /// SPLIT, SPLIT_V and UNPACK: `count` pieces of `x` along `axis`, of `sizes` (one may be −1)
    /// or equal; UNPACK's pieces drop the axis.
    static func pieces(_ x: [Int32]?, axis: Int64, sizes: [Int64]?, count: Int, keepAxis: Bool) -> [[Int32]]? {
        guard let x, count > 0, let a = ShapeMath.axis(axis, rank: x.count) else { return nil }
        let extent = Int64(x[a])
        var lengths: [Int64]
        if let sizes {
            guard sizes.count == count, sizes.filter({ $0 == -1 }).count <= 1, sizes.allSatisfy({ $0 >= -1 }) else { return nil }
            let known = sizes.filter { $0 >= 0 }.reduce(0, +)
            lengths = sizes.map { $0 == -1 ? extent - known : $0 }
            guard lengths.allSatisfy({ $0 >= 0 }), lengths.reduce(0, +) == extent else { return nil }
        } else if keepAxis {
            guard extent % Int64(count) == 0 else { return nil }
            lengths = Array(repeating: extent / Int64(count), count: count)
        } else {
            guard extent == Int64(count) else { return nil }
            lengths = Array(repeating: 1, count: count)
        }
        return lengths.map { n in
            var shape = x
            if keepAxis { shape[a] = Int32(n) } else { shape.remove(at: a) }
            return shape
        }
    }
}
