import FlatBuffers
import IR
import Kernels

// SOFTMAX (schema.fbs SoftmaxOptions; LiteRT's op_version.cc; TFLM's softmax kernel; the int8
// output parameters are fixed by the TFLite quantization spec).
extension OperatorTable {
    static let softmaxOperators = [softmax]

    static let softmax = OperatorDefinition(
        .softmax,
        options: OptionsCodec(
            defaultKind: .softmax(beta: 1),
            decode: { r in
                // SoftmaxOptions: 0 beta.
                guard r.isTable(Schema.OptionsTag.softmax) else { return nil }
                return (.softmax(beta: try r.f32(0)), false)
            },
            encode: { op in
                guard case .softmax(let beta) = op.kind else { return nil }
                var w = OptionsWriter()
                w.f32(0, beta)
                return (Schema.OptionsTag.softmax, w.table)
            },
            describe: { kind in
                guard case .softmax(let beta) = kind else { return [] }
                return [("beta", "\(beta)")]
            }
        ),
        version: { s in OpVersions.int8OrInt16Input(s) },
        quantization: { op, _ in
            guard case .softmax = op.kind else { return nil }
            // int16: TFLM softmax.cc's LUT kernel, output 1/32768 with zero point 0 (Int16x8.fixedOutput).
            return .init(roles: [.activation], output: .fixed(.unitInterval), int16: true)
        },
        kernel: { c in
            guard case .softmax(let beta) = c.op.kind else { throw Unsupported("no kernel for this op") }
            if c.optionalInput(0)?.dtype == .int16 { return try Int16SoftmaxKernel(c, beta: beta) }
            return try SoftmaxKernel(c, beta: beta)
        },
        verify: { check in
            guard case .softmax = check.op.kind else { return }
            check.fixedInt8Output(scale: 1.0 / 256, zeroPoint: -128)
        },
        attributes: [
            TypedOptions<Float>(payload: { if case .softmax(let b) = $0 { b } else { nil } }, make: { .softmax(beta: $0) }).attribute("beta", \.self)
        ],
        // LiteRT kernels/activations.cc SoftmaxPrepare: the input's shape.
        shape: { $0.sameAsInput },
        microFootprint: { c in
            // softmax_common.cc: Init allocates SoftmaxParams (types.h: beta, 7 int32/float,
            // 5 pointers); int16 inputs add two 513-entry int16 tables. TfLiteSoftmaxParams: beta.
            let params = CStruct([.float64, .array(.int32, 7), .pointer, .pointer, .pointer, .pointer, .pointer])
            let tables = c.input(0)?.dtype == .int16 ? [2 * 513, 2 * 513] : []
            return MicroKernelFootprint(builtinData: .options(ints: 1), initBuffers: [c.size(params)], prepareBuffers: tables)
        }
    )
}
