import FlatBuffers
import IR
import Kernels

// CONCATENATION and PACK (schema.fbs ConcatenationOptions, PackOptions; LiteRT's op_version.cc;
// TFLM's concatenation and pack kernels).
extension OperatorTable {
    static let concatenationOperators = [concatenation, pack]

    static let concatenation = OperatorDefinition(
        .concatenation,
        options: OptionsCodec(
            defaultKind: .concatenation(axis: 0, activation: .none),
            decode: { r in
                // ConcatenationOptions: 0 axis, 1 fused_activation_function.
                guard r.isTable(Schema.OptionsTag.concatenation), let a = try r.activation(1) else { return nil }
                return (.concatenation(axis: try r.i32(0), activation: a), false)
            },
            encode: { op in
                guard case .concatenation(let axis, let a) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i32(0, axis); w.i8(1, a.rawValue)
                return (Schema.OptionsTag.concatenation, w.table)
            },
            describe: { kind in
                guard case .concatenation(let axis, _) = kind else { return [] }
                return [("axis", "\(axis)")]
            }
        ),
        // TFLM's concatenation kernel rejects a fused activation, so nothing fuses into it.
        activation: ActivationField(
            fusable: false,
            get: { if case .concatenation(_, let a) = $0 { a } else { nil } },
            set: { kind, v in if case .concatenation(let axis, _) = kind { kind = .concatenation(axis: axis, activation: v) } }
        ),
        version: { s in
            s.first([
                (s.input(0) == .int4, 5, "int4 inputs"),
                (s.input(0) == .uint32, 4, "uint32 inputs"),
                (s.input(0) == .int16, 3, "int16 inputs"),
                (s.input(0) == .int8, 2, "int8 inputs"),
            ])
        },
        quantization: { op, _ in
            guard case .concatenation = op.kind else { return nil }
            // TFLM concatenation.cc copies int16 as it does int8 (equal parameters).
            return .init(roles: Array(repeating: .activation, count: op.inputs.count), output: .sameAsAllInputs, int16: true)
        },
        kernel: { c in
            guard case .concatenation(let axis, let act) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try ConcatenationKernel(c, axis: axis, activation: act)
        },
        fold: { f in
            guard case .concatenation(let axis, let act) = f.kind, act == .none, let parts = f.all else { return nil }
            return ConstantEvaluator.concatenate(parts, axis: Int(axis)).map { [$0] }
        },
        attributes: [
            .fusedActivation,
            OperatorAttribute(
                "axis",
                read: { (kind: OpKind) -> Int32? in if case .concatenation(let axis, _) = kind { axis } else { nil } },
                write: { (kind: OpKind, axis: Int32) -> OpKind? in
                    if case .concatenation(_, let a) = kind { .concatenation(axis: axis, activation: a) } else { nil }
                }
            ),
        ],
        shapeArithmetic: { operands in
            guard case .concatenation(let axis, let act) = operands.op.kind, act == .none, let xs = operands.allConstants() else { return nil }
            return ShapeArithmetic.concatenate(xs, axis: Int(axis))
        },
        // LiteRT kernels/concatenation.cc Prepare: inputs of one rank that agree off the axis
        // (negative counts from the end); the output sums them along it.
        shape: { s in
            guard case .concatenation(let axis, _) = s.op.kind, let xs = s.allShapes, let rank = xs.first?.count,
                let a = ShapeMath.axis(axis, rank: rank)
            else { return nil }
            var out = xs[0]
            for x in xs.dropFirst() {
                guard x.count == rank, x.indices.allSatisfy({ $0 == a || x[$0] == out[$0] }) else { return nil }
                let (sum, overflow) = out[a].addingReportingOverflow(x[a])
                guard !overflow else { return nil }
                out[a] = sum
            }
            return [out]
        },
        microFootprint: { c in
            // concatenation.cc: Init allocates OpData (ConcatenationParams from types.h: axis,
            // two pointers, three 4-byte fields; with compression ten scratch indices more);
            // Prepare reads input 0 and the output, then every input again.
            // TfLiteConcatenationParams: axis, activation.
            let params = CStruct([.int32, .pointer, .pointer, .int32, .int32, .float32])
            let opData = CStruct([.nested(params)] + (c.build.compression ? [.array(.int32, 10)] : []))
            return MicroKernelFootprint(
                builtinData: .options(ints: 2), initBuffers: [c.size(opData)],
                tempTensors: [.input(0), .output(0)] + c.inputs.indices.map { .input($0) })
        }
    )

    static let pack = OperatorDefinition(
        .pack,
        options: OptionsCodec(
            defaultKind: .pack(valuesCount: 0, axis: 0),
            decode: { r in
                // PackOptions: 0 values_count, 1 axis.
                guard r.isTable(Schema.OptionsTag.pack) else { return nil }
                return (.pack(valuesCount: try r.i32(0), axis: try r.i32(1)), false)
            },
            encode: { op in
                guard case .pack(let count, let axis) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i32(0, count); w.i32(1, axis)
                return (Schema.OptionsTag.pack, w.table)
            },
            describe: { kind in
                guard case .pack(let n, let axis) = kind else { return [] }
                return [("values_count", "\(n)"), ("axis", "\(axis)")]
            }
        ),
        version: { s in
            s.first([
                (s.input(0) == .int8, 2, "int8 inputs"),
                (s.input(0) == .int16 && s.output(0) == .int16, 3, "int16 inputs and output"),
                (s.input(0) == .uint32, 4, "uint32 inputs"),
            ])
        },
        kernel: { c in
            guard case .pack(let n, let axis) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try PackKernel(c, valuesCount: n, axis: axis)
        },
        fold: { f in
            guard case .pack(_, let axis) = f.kind, let parts = f.all else { return nil }
            return ConstantEvaluator.pack(parts, axis: Int(axis)).map { [$0] }
        },
        attributes: [
            OperatorAttribute(
                "axis",
                read: { (kind: OpKind) -> Int32? in if case .pack(_, let axis) = kind { axis } else { nil } },
                write: { (kind: OpKind, axis: Int32) -> OpKind? in if case .pack(let n, _) = kind { .pack(valuesCount: n, axis: axis) } else { nil } }
            ),
            OperatorAttribute(
                "values_count",
                read: { (kind: OpKind) -> Int32? in if case .pack(let n, _) = kind { n } else { nil } },
                write: { (kind: OpKind, n: Int32) -> OpKind? in if case .pack(_, let axis) = kind { .pack(valuesCount: n, axis: axis) } else { nil } }
            ),
        ],
        shapeArithmetic: { operands in
            guard case .pack(let count, let axis) = operands.op.kind, let xs = operands.allConstants(), xs.count == Int(count) else { return nil }
            return ShapeArithmetic.pack(xs, axis: Int(axis))
        },
        // LiteRT kernels/pack.cc Prepare: values_count inputs of one shape; values_count inserted
        // at the axis (which counts from the end of the output's dimensions when negative).
        shape: { s in
            guard case .pack(let count, let axis) = s.op.kind, Int(count) == s.op.inputs.count, let xs = s.allShapes,
                xs.allSatisfy({ $0 == xs[0] }), let a = ShapeMath.axis(axis, rank: xs[0].count + 1)
            else { return nil }
            var out = xs[0]
            out.insert(count, at: a)
            return [out]
        },
        microFootprint: { _ in
            // pack.cc: no Init, no Prepare. TfLitePackParams: values_count, axis.
            MicroKernelFootprint(builtinData: .options(ints: 2), tempTensors: [])
        }
    )
}
