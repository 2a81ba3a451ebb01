import FlatBuffers
import IR
import Kernels

// SHAPE (schema.fbs ShapeOptions; TFLM's shape kernel).
extension OperatorTable {
    static let shapeOperators = [shape]

    static let shape = OperatorDefinition(
        .shape,
        options: OptionsCodec(
            defaultKind: .shape(outType: .int32),
            decode: { r in
                // ShapeOptions: 0 out_type, FLOAT32 (0) by the schema's default.
                guard r.isTable(Schema.OptionsTag.shape) else { return nil }
                return (.shape(outType: DType(code: try r.i8(0))), false)
            },
            encode: { op in
                guard case .shape(let outType) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i8(0, outType.code)
                return (Schema.OptionsTag.shape, w.table)
            },
            describe: { kind in
                guard case .shape(let t) = kind else { return [] }
                return [("out_type", t.name)]
            }
        ),
        version: { _ in MinimumVersion(1, "no version rule: always 1") },
        kernel: { c in
            guard case .shape(let t) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try ShapeKernel(c, outType: t)
        },
        attributes: [
            TypedOptions<DType>(payload: { if case .shape(let t) = $0 { t } else { nil } }, make: { .shape(outType: $0) }).attribute("out_type", \.self)
        ],
        // The dimensions of a tensor whose shape is fully known.
        shapeArithmetic: { operands in
            guard case .shape(let outType) = operands.op.kind, let x = operands.value(0), !x.isDynamic, x.hasRank || !x.shape.isEmpty else { return nil }
            return ShapeArithmetic.shape(of: x.shape, outType: outType)
        },
        // LiteRT kernels/shape.cc Prepare: a vector of the input's rank.
        shape: { s in s.shape(0).map { [[Int32($0.count)]] } },
        microFootprint: { _ in
            // shape.cc: no op data; Prepare reads no temporaries. TfLiteShapeParams: out_type.
            MicroKernelFootprint(builtinData: .options(ints: 1), tempTensors: [])
        }
    )
}
