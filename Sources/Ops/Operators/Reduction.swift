import FlatBuffers
import IR
import Kernels

// MEAN, REDUCE_MAX and REDUCE_MIN (schema.fbs ReducerOptions; LiteRT's op_version.cc; TFLM's
// reduce kernel).
extension OperatorTable {
    static let reductionOperators = [mean, reducer(.reduceMax), reducer(.reduceMin)]

    static let mean = OperatorDefinition(
        .mean,
        options: OptionsCodec(
            defaultKind: .mean(keepDims: false),
            decode: { r in
                // ReducerOptions: 0 keep_dims.
                guard r.isTable(Schema.OptionsTag.reducer) else { return nil }
                return (.mean(keepDims: try r.flag(0)), false)
            },
            encode: { op in
                guard case .mean(let keep) = op.kind else { return nil }
                var w = OptionsWriter()
                w.flag(0, keep)
                return (Schema.OptionsTag.reducer, w.table)
            },
            describe: { kind in
                guard case .mean(let keep) = kind else { return [] }
                return [("keep_dims", "\(keep)")]
            }
        ),
        version: { s in OpVersions.int8OrInt16Input(s) },
        quantization: { op, _ in
            guard case .mean = op.kind else { return nil }
            return .init(roles: [.activation, .passThrough], output: .free)
        },
        kernel: { c in
            guard case .mean(let keepDims) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try MeanKernel(c, keepDims: keepDims)
        },
        attributes: [
            TypedOptions<Bool>(payload: { if case .mean(let k) = $0 { k } else { nil } }, make: { .mean(keepDims: $0) }).attribute("keep_dims", \.self)
        ],
        // LiteRT kernels/reduce.cc ResizeOutputTensor: each axis (negative counts from the end,
        // repeats count once) becomes 1 with keep_dims, else is dropped.
        shape: { s in
            guard case .mean(let keepDims) = s.op.kind, let x = s.shape(0), let axes = s.constant(1) else { return nil }
            var reduced = [Bool](repeating: false, count: x.count)
            for a in axes.values {
                guard let axis = ShapeMath.axis(a, rank: x.count) else { return nil }
                reduced[axis] = true
            }
            if keepDims { return [x.indices.map { reduced[$0] ? 1 : x[$0] }] }
            return [x.indices.filter { !reduced[$0] }.map { x[$0] }]
        }
    )

    /// Reducers tfrewrite knows only the version rule of.
    static func reducer(_ code: BuiltinOperator) -> OperatorDefinition {
        OperatorDefinition(code, version: { s in OpVersions.int8OrInt16Input(s) })
    }
}
