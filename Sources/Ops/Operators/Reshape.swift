import FlatBuffers
import IR
import Kernels

// RESHAPE, SQUEEZE and EXPAND_DIMS: the same data under another shape (schema.fbs
// ReshapeOptions, SqueezeOptions; LiteRT's op_version.cc; TFLM's reshape/squeeze/expand_dims).
extension OperatorTable {
    static let reshapeOperators = [reshape, squeeze, expandDims]

    static let reshape = OperatorDefinition(
        .reshape,
        options: OptionsCodec(
            defaultKind: .reshape(newShape: nil),
            decode: { r in
                // ReshapeOptions: 0 new_shape, the legacy form of the shape input.
                if r.tag == Schema.OptionsTag.none { return (.reshape(newShape: nil), false) }
                guard r.tag == Schema.OptionsTag.reshape else { return nil }
                if let t = r.table, t.has(0) { return (.reshape(newShape: try r.int32s(0) ?? []), false) }
                return (.reshape(newShape: nil), true)
            },
            encode: { op in
                guard case .reshape(let newShape) = op.kind else { return nil }
                if let s = newShape {
                    var w = OptionsWriter()
                    w.int32s(0, s)
                    return (Schema.OptionsTag.reshape, w.table)
                }
                return op.emptyOptionsTable ? (Schema.OptionsTag.reshape, FBTableSpec()) : nil
            },
            describe: { kind in
                guard case .reshape(let s) = kind else { return [] }
                return s.map { [("new_shape", "[" + $0.map(String.init).joined(separator: ",") + "]")] } ?? []
            }
        ),
        version: { _ in MinimumVersion(1, "no version rule: always 1") },
        quantization: { op, _ in
            guard case .reshape = op.kind else { return nil }
            return .init(roles: [.activation, .passThrough], output: .sameAsInput, int16: true)  // TFLM reshape/squeeze copy bytes
        },
        kernel: { c in
            guard case .reshape(let newShape) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try ReshapeKernel(c, .reshape(optionShape: newShape))
        },
        verify: { check in
            guard case .reshape = check.op.kind else { return }
            if let x = check.input(0), let y = check.output(0), !x.isDynamic, !y.isDynamic, x.elementCount != y.elementCount {
                check.report("reshape from \(x.shape) to \(y.shape) changes the element count")
            }
        },
        fold: { f in
            guard case .reshape = f.kind else { return nil }
            return f.reshapedToOutput
        },
        // An empty new_shape stands for none (the legacy option left out).
        attributes: [
            TypedOptions<[Int32]>(payload: { if case .reshape(let s) = $0 { s ?? [] } else { nil } }, make: { .reshape(newShape: $0.isEmpty ? nil : $0) })
                .attribute("new_shape", \.self)
        ],
        shapeArithmetic: { operands in
            guard case .reshape(let newShape) = operands.op.kind, let x = operands.constant(0),
                let requested = operands.reshapeRequest(newShape: newShape),
                let dims = ShapeArithmetic.reshapeDimensions(requested, elementCount: x.elementCount)
            else { return nil }
            return IntTensor(dtype: x.dtype, shape: dims, values: x.values)
        },
        // LiteRT kernels/reshape.cc GetOutputShape: the shape input when it is a vector, else
        // ReshapeOptions.new_shape; one −1 stands for the elements the others leave.
        shape: { s in
            guard case .reshape(let newShape) = s.op.kind, let x = s.shape(0), let count = Value.elementCount(x),
                let requested = s.operands.reshapeRequest(newShape: newShape),
                let dims = ShapeArithmetic.reshapeDimensions(requested, elementCount: count)
            else { return nil }
            return IntTensor.dims32(dims).map { [$0] }
        },
        microFootprint: { _ in
            // reshape.cc: no op data. TfLiteReshapeParams: shape[8], num_dimensions.
            MicroKernelFootprint(builtinData: .options(ints: 9))
        }
    )

    static let squeeze = OperatorDefinition(
        .squeeze,
        options: OptionsCodec(
            defaultKind: .squeeze(dims: []),
            decode: { r in
                // SqueezeOptions: 0 squeeze_dims.
                guard r.isTable(Schema.OptionsTag.squeeze) else { return nil }
                return (.squeeze(dims: try r.int32s(0) ?? []), false)
            },
            encode: { op in
                guard case .squeeze(let dims) = op.kind else { return nil }
                var w = OptionsWriter()
                if !dims.isEmpty { w.int32s(0, dims) }
                return (Schema.OptionsTag.squeeze, w.table)
            },
            describe: { kind in
                guard case .squeeze(let dims) = kind else { return [] }
                return [("squeeze_dims", "[" + dims.map(String.init).joined(separator: ",") + "]")]
            }
        ),
        version: { s in s.first([(s.input(0) == .string, 2, "string input")]) },
        quantization: { op, _ in
            guard case .squeeze = op.kind else { return nil }
            return .init(roles: [.activation, .passThrough], output: .sameAsInput, int16: true)  // TFLM reshape/squeeze copy bytes
        },
        kernel: { c in
            guard case .squeeze(let dims) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try ReshapeKernel(c, .squeeze(dims))
        },
        fold: { f in
            guard case .squeeze = f.kind else { return nil }
            return f.reshapedToOutput
        },
        attributes: [
            TypedOptions<[Int32]>(payload: { if case .squeeze(let d) = $0 { d } else { nil } }, make: { .squeeze(dims: $0) }).attribute("squeeze_dims", \.self)
        ],
        // LiteRT kernels/squeeze.cc Prepare: drops the listed dimensions (negative counts from
        // the end; each must be 1), or every dimension of size 1 when none is listed.
        shape: { s in
            guard case .squeeze(let dims) = s.op.kind, let x = s.shape(0) else { return nil }
            var dropped = x.map { dims.isEmpty && $0 == 1 }
            for d in dims {
                guard let axis = ShapeMath.axis(d, rank: x.count), x[axis] == 1 else { return nil }
                dropped[axis] = true
            }
            return [x.indices.filter { !dropped[$0] }.map { x[$0] }]
        },
        microFootprint: { _ in
            // squeeze.cc: no op data; Prepare reads input 0 and the output.
            // TfLiteSqueezeParams (builtin_op_data.h): squeeze_dims[8], num_squeeze_dims.
            MicroKernelFootprint(builtinData: .options(ints: 9), tempTensors: [.input(0), .output(0)])
        }
    )

    static let expandDims = OperatorDefinition(
        .expandDims,
        version: { _ in MinimumVersion(1, "no version rule: always 1") },
        // TFLM's expand_dims.cc copies int8 bytes unchanged, so the output keeps the input's
        // scale and zero point (as RESHAPE and SQUEEZE); the axis stays int32.
        quantization: { _, _ in .init(roles: [.activation, .passThrough], output: .sameAsInput) },
        kernel: { c in try ReshapeKernel(c, .expandDims) },
        fold: { f in f.reshapedToOutput },
        // LiteRT kernels/expand_dims.cc: a 1 inserted at the axis input's position, which counts
        // from the end when negative (−1 appends).
        shape: { s in
            guard let x = s.shape(0), let axis = s.constant(1), axis.values.count == 1,
                let position = ShapeMath.axis(axis.values[0], rank: x.count + 1)
            else { return nil }
            var out = x
            out.insert(1, at: position)
            return [out]
        },
        microFootprint: { _ in
            // expand_dims.cc: no op data, and ParseExpandDims (flatbuffer_conversions.cc)
            // allocates no builtin data; Prepare reads the input, the axis and the output.
            MicroKernelFootprint()
        }
    )
}
