import FlatBuffers
import IR
import Kernels

// AVERAGE_POOL_2D and MAX_POOL_2D (schema.fbs Pool2DOptions; LiteRT's op_version.cc; TFLM's
// pooling kernel).
extension OperatorTable {
    static let poolingOperators = [pool(.averagePool2D, isMax: false), pool(.maxPool2D, isMax: true)]

    static func pool(_ code: BuiltinOperator, isMax: Bool) -> OperatorDefinition {
        @Sendable func attributes(_ kind: OpKind) -> Pool2DAttributes? {
            switch kind {
            case .averagePool2D(let a) where !isMax: a
            case .maxPool2D(let a) where isMax: a
            default: nil
            }
        }
        @Sendable func make(_ a: Pool2DAttributes) -> OpKind { isMax ? .maxPool2D(a) : .averagePool2D(a) }
        let typed = TypedOptions(payload: attributes, make: make)
        return OperatorDefinition(
            code,
            options: OptionsCodec(
                defaultKind: make(Pool2DAttributes(padding: .same, strideW: 1, strideH: 1, filterW: 1, filterH: 1)),
                decode: { r in
                    // Pool2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 filter_width, 4 filter_height,
                    // 5 fused_activation_function.
                    guard r.isTable(Schema.OptionsTag.pool2D), let p = try r.padding(0), let a = try r.activation(5) else { return nil }
                    return (make(Pool2DAttributes(padding: p, strideW: try r.i32(1), strideH: try r.i32(2), filterW: try r.i32(3), filterH: try r.i32(4), activation: a)), false)
                },
                encode: { op in
                    guard let a = attributes(op.kind) else { return nil }
                    var w = OptionsWriter()
                    w.i8(0, a.padding.rawValue); w.i32(1, a.strideW); w.i32(2, a.strideH); w.i32(3, a.filterW); w.i32(4, a.filterH)
                    w.i8(5, a.activation.rawValue)
                    return (Schema.OptionsTag.pool2D, w.table)
                },
                describe: { kind in
                    guard let a = attributes(kind) else { return [] }
                    return [("padding", a.padding.description), ("stride", "\(a.strideH)x\(a.strideW)"), ("filter", "\(a.filterH)x\(a.filterW)")]
                }
            ),
            activation: ActivationField(
                get: { attributes($0)?.activation },
                set: { kind, v in if var a = attributes(kind) { a.activation = v; kind = make(a) } }
            ),
            window: WindowField(
                get: { kind in
                    attributes(kind).map { a in
                        Window(padding: a.padding, strides: (Int(a.strideH), Int(a.strideW)), dilations: (1, 1), filter: (Int(a.filterH), Int(a.filterW)))
                    }
                },
                setPadding: { kind, p in if var a = attributes(kind) { a.padding = p; kind = make(a) } }
            ),
            version: { s in
                s.first([
                    (s.input(0) == .int16 && s.output(0) == .int16, 3, "int16 input and output"),
                    (s.input(0) == .int8, 2, "int8 input"),
                ])
            },
            quantization: { op, _ in
                // TFLM pooling.cc: int16 average and max pools (reference_integer_ops/pooling.h).
                attributes(op.kind) == nil ? nil : .init(roles: [.activation], output: .sameAsInput, int16: true)
            },
            kernel: { c in
                guard let a = attributes(c.op.kind) else { throw Unsupported("no kernel for this op") }
                return try Pool2DKernel(c, a, isMax: isMax)
            },
            attributes: [
                typed.attribute("padding", \.padding),
                typed.attribute("stride_w", \.strideW),
                typed.attribute("stride_h", \.strideH),
                .fusedActivation,
                typed.attribute("filter_w", \.filterW),
                typed.attribute("filter_h", \.filterH),
            ],
            // LiteRT kernels/pooling.cc GenericPrepare: [batch, out_h, out_w, channels].
            shape: { s in
                guard let a = attributes(s.op.kind), let x = s.shape(0), x.count == 4 else { return nil }
                return ShapeMath.windowed(x, filter: (a.filterH, a.filterW), stride: (a.strideH, a.strideW), a.padding, channels: x[3])
            },
        microFootprint: { c in
                // pooling.cc: Init allocates OpDataPooling (TfLitePaddingValues, 2 int32, 2 float).
                // TfLitePoolParams: padding, stride_w, stride_h, filter_w, filter_h, activation,
                // computed padding (4 ints).
                .opData(c, CStruct([.array(.int32, 8)]), options: .options(ints: 10))
            }
        )
    }
}
