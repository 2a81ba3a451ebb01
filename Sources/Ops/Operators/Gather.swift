import FlatBuffers
import IR
import Kernels

// GATHER (schema.fbs GatherOptions; LiteRT's op_version.cc; TFLM's gather kernel).
extension OperatorTable {
    static let gatherOperators = [gather]

    static let gather = OperatorDefinition(
        .gather,
        options: OptionsCodec(
            defaultKind: .gather(axis: 0, batchDims: 0),
            decode: { r in
                // GatherOptions: 0 axis, 1 batch_dims.
                guard r.isTable(Schema.OptionsTag.gather) else { return nil }
                return (.gather(axis: try r.i32(0), batchDims: try r.i32(1)), false)
            },
            encode: { op in
                guard case .gather(let axis, let batchDims) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i32(0, axis); w.i32(1, batchDims)
                return (Schema.OptionsTag.gather, w.table)
            },
            describe: { kind in
                guard case .gather(let axis, let b) = kind else { return [] }
                return [("axis", "\(axis)"), ("batch_dims", "\(b)")]
            }
        ),
        version: { s in
            var batchDims: Int32 = 0
            if case .gather(_, let b) = s.op.kind { batchDims = b }
            return s.first([
                (s.input(0) == .int4, 7, "int4 params"),
                (s.input(1) == .int16, 6, "int16 indices"),
                (batchDims != 0, 5, "batch_dims \(batchDims)"),
                (s.input(0) == .int16, 4, "int16 params"),
                (s.input(0) == .bool, 3, "bool params"),
                (s.input(0) == .int8, 2, "int8 params"),
            ])
        },
        quantization: { op, _ in
            guard case .gather = op.kind else { return nil }
            return .init(roles: [.activation], output: .sameAsInput)
        },
        kernel: { c in
            guard case .gather(let axis, let batchDims) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try GatherKernel(c, axis: axis, batchDims: batchDims)
        },
        attributes: [
            OperatorAttribute(
                "axis",
                read: { (kind: OpKind) -> Int32? in if case .gather(let axis, _) = kind { axis } else { nil } },
                write: { (kind: OpKind, axis: Int32) -> OpKind? in if case .gather(_, let b) = kind { .gather(axis: axis, batchDims: b) } else { nil } }
            ),
            OperatorAttribute(
                "batch_dims",
                read: { (kind: OpKind) -> Int32? in if case .gather(_, let b) = kind { b } else { nil } },
                write: { (kind: OpKind, b: Int32) -> OpKind? in if case .gather(let axis, _) = kind { .gather(axis: axis, batchDims: b) } else { nil } }
            ),
        ],
        shapeArithmetic: { operands in
            guard case .gather(let axis, let batchDims) = operands.op.kind, operands.op.inputs.count == 2,
                let params = operands.constant(0), let indices = operands.constant(1)
            else { return nil }
            return ShapeArithmetic.gather(params, indices: indices, axis: Int(axis), batchDims: Int(batchDims))
        },
        // LiteRT kernels/gather.cc Prepare: params[..<axis] + indices[batch_dims...] +
        // params[(axis + 1)...]; a negative axis counts from params' end, negative batch_dims
        // from indices' end; batch_dims ≤ axis and the batch dimensions agree.
        shape: { s in
            guard case .gather(let axis, let batchDims) = s.op.kind, let params = s.shape(0), let indices = s.shape(1),
                let a = ShapeMath.axis(axis, rank: params.count)
            else { return nil }
            let b = batchDims < 0 ? Int(batchDims) + indices.count : Int(batchDims)
            guard b >= 0, b <= a, b < params.count, b <= indices.count, params[..<b] == indices[..<b] else { return nil }
            var out = Array(params[..<a])
            out += indices[b...]
            out += params[(a + 1)...]
            return [out]
        },
        microFootprint: { c in
            // gather.cc: no Init; Prepare reads input, positions, output, then moves the
            // output's dims to a persistent TfLiteIntArray (kernel_util.cc
            // CreateWritableTensorDimsWithCopy: size and one int per dimension).
            // TfLiteGatherParams: axis, batch_dims.
            let rank = c.outputs.first?.shape.count ?? 0
            return MicroKernelFootprint(builtinData: .options(ints: 2), prepareBuffers: [try c.bytes(4, 1 + rank)])
        }
    )
}
