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
            return .init(roles: [.activation, .passThrough], output: .free, int16: true)  // TFLM reduce.cc: int16 MEAN
        },
        kernel: { c in
            guard case .mean(let keepDims) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try MeanKernel(c, keepDims: keepDims)
        },
        attributes: [
            TypedOptions<Bool>(payload: { if case .mean(let k) = $0 { k } else { nil } }, make: { .mean(keepDims: $0) }).attribute("keep_dims", \.self)
        ],
        shape: { s in
            guard case .mean(let keepDims) = s.op.kind else { return nil }
            return s.reduced(keepDims: keepDims)
        },
        microFootprint: { c in
            // reduce.cc: Init allocates OpDataReduce (11 int32/float); PrepareMeanOrSumHelper reads
            // input, output, axis, then PrepareSimple input, axis (and output for int8), and asks
            // for an int32 accumulator per output element (int8/int16), an int per input
            // dimension and an int per axis. TfLiteReducerParams: keep_dims.
            guard let input = c.input(0), let axis = c.input(1), let axes = axis.elementCount, let outputs = c.outputs.first?.elementCount else {
                throw FootprintUnknown("MEAN: operands without static shapes")
            }
            let quantized = input.dtype == .int8 || input.dtype == .int16
            return MicroKernelFootprint(
                builtinData: CStruct([.bool]),
                initBuffers: [c.size(CStruct([.array(.int32, 11)]))],
                scratch: (quantized ? [try c.bytes(4, outputs)] : []) + [4 * input.rank, try c.bytes(4, axes)],
                tempTensors: [.input(0), .output(0), .input(1), .input(0), .input(1)] + (input.dtype == .int8 ? [.output(0)] : []))
        }
    )

    /// REDUCE_MAX and REDUCE_MIN (ReducerOptions kept opaquely; kernel in ArgReduce.swift's helper).
    static func reducer(_ code: BuiltinOperator) -> OperatorDefinition {
        OperatorDefinition(code, version: { s in OpVersions.int8OrInt16Input(s) }, kernel: { c in try reduceKernel(c, code == .reduceMax ? .max : .min) },
                           shape: reducerShape)
    }
}
