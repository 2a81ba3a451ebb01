import FlatBuffers
import IR
import Kernels

// The elementwise binary ops ADD, SUB, MUL, DIV, FLOOR_DIV, MAXIMUM and MINIMUM (schema.fbs
// AddOptions, SubOptions, MulOptions, DivOptions; LiteRT's op_version.cc; TFLM's add/sub/mul/div/
// maximum_minimum kernels). Their output shape is the inputs' broadcast (each kernel's Prepare
// calls kernel_util.cc CalculateShapeForBroadcast when the shapes differ).
extension OperatorTable {
    static let binaryOperators = [add, sub, mul, div, floorDiv, maximum, minimum]

    static let addOptions = TypedOptions<ArithmeticAttributes>(payload: { if case .add(let a) = $0 { a } else { nil } }, make: { .add($0) })
    static let subOptions = TypedOptions<ArithmeticAttributes>(payload: { if case .sub(let a) = $0 { a } else { nil } }, make: { .sub($0) })

    /// Integer ADD, SUB, MUL, DIV and FLOOR_DIV for `fold-shapes`, unless a fused activation is set.
    static func elementwiseShapeArithmetic(_ f: @escaping @Sendable (Int64, Int64) -> Int64?) -> @Sendable (ShapeOperands) -> IntTensor? {
        { operands in operands.op.kind.fusedActivation == ActivationFunction.none ? operands.elementwise(f) : nil }
    }

    /// ADD and SUB share their options table layout: 0 fused_activation_function,
    /// 1 pot_scale_int16 (default true).
    static func addOrSubOptions(tag: UInt8, defaultKind: OpKind, typed: TypedOptions<ArithmeticAttributes>) -> OptionsCodec {
        let make = typed.make, attributes = typed.payload
        return OptionsCodec(
            defaultKind: defaultKind,
            decode: { r in
                guard r.isTable(tag), let a = try r.activation(0) else { return nil }
                return (make(ArithmeticAttributes(activation: a, potScaleInt16: try r.flag(1, true))), false)
            },
            encode: { op in
                guard let a = attributes(op.kind) else { return nil }
                var w = OptionsWriter()
                w.i8(0, a.activation.rawValue); w.flag(1, a.potScaleInt16, true)
                return (tag, w.table)
            },
            describe: { kind in
                guard let a = attributes(kind) else { return [] }
                return a.potScaleInt16 ? [] : [("pot_scale_int16", "false")]
            }
        )
    }

    static let activationOperandsFree: @Sendable (Op, QuantizationChoices) -> OpQuantizationSpec? = { _, _ in
        .init(roles: [.activation, .activation], output: .free)
    }
    /// ADD, SUB and MUL also run int16 in TFLM (add.cc, sub.cc, mul.cc: the general rescaling
    /// path with zero points 0, whatever pot_scale_int16 says).
    static let activationOperandsFreeInt16: @Sendable (Op, QuantizationChoices) -> OpQuantizationSpec? = { _, _ in
        .init(roles: [.activation, .activation], output: .free, int16: true)
    }

    static let add = OperatorDefinition(
        .add,
        options: addOrSubOptions(tag: Schema.OptionsTag.add, defaultKind: .add(ArithmeticAttributes()), typed: addOptions),
        activation: ActivationField(
            get: { if case .add(let a) = $0 { a.activation } else { nil } },
            set: { kind, v in if case .add(var a) = kind { a.activation = v; kind = .add(a) } }
        ),
        version: { s in
            var pot = true
            if case .add(let a) = s.op.kind { pot = a.potScaleInt16 }
            let quantized = s.value(0)?.type.isQuantized ?? false
            return s.first([
                (s.input(0) == .float16, 6, "float16 inputs"),
                (s.input(0) == .int16 && !quantized, 5, "non-quantized int16 inputs"),
                (s.input(0) == .int64, 4, "int64 inputs"),
                (s.input(0) == .int16 && s.output(0) == .int16 && !pot, 3, "int16 with pot_scale_int16 false"),
                (s.input(0) == .int8, 2, "int8 inputs"),
            ])
        },
        quantization: { op, c in
            guard case .add = op.kind else { return nil }
            return activationOperandsFreeInt16(op, c)
        },
        kernel: { c in
            guard case .add(let a) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try BinaryKernel(c, .add, activation: a.activation)
        },
        fold: { f in
            guard case .add(let a) = f.kind else { return nil }
            return f.binary(.add, activation: a.activation)
        },
        attributes: [.fusedActivation, addOptions.attribute("pot_scale_int16", \.potScaleInt16)],
        shapeArithmetic: elementwiseShapeArithmetic(ShapeArithmetic.add),
        shape: { $0.broadcast },
        microFootprint: { c in
            // add.cc: Init allocates OpDataAdd (requires_broadcast and 14 int32/float fields, no
            // pointers). TfLiteAddParams: activation, pot_scale_int16.
            .opData(c, CStruct([.bool, .array(.int32, 14)]), options: CStruct([.int32, .bool]))
        }
    )

    static let sub = OperatorDefinition(
        .sub,
        options: addOrSubOptions(tag: Schema.OptionsTag.sub, defaultKind: .sub(ArithmeticAttributes()), typed: subOptions),
        activation: ActivationField(
            get: { if case .sub(let a) = $0 { a.activation } else { nil } },
            set: { kind, v in if case .sub(var a) = kind { a.activation = v; kind = .sub(a) } }
        ),
        version: { s in
            var pot = true
            if case .sub(let a) = s.op.kind { pot = a.potScaleInt16 }
            return s.first([
                (s.input(0) == .int16 && s.output(0) == .int16 && !pot, 5, "int16 with pot_scale_int16 false"),
                (s.input(0) == .int64, 4, "int64 inputs"),
                (s.broadcastsAbove4D, 3, "broadcast with more than 4 dimensions"),
                (s.input(0) == .int8, 2, "int8 inputs"),
            ])
        },
        quantization: { op, c in
            guard case .sub = op.kind else { return nil }
            return activationOperandsFreeInt16(op, c)
        },
        kernel: { c in
            guard case .sub(let a) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try BinaryKernel(c, .sub, activation: a.activation)
        },
        fold: { f in
            guard case .sub(let a) = f.kind else { return nil }
            return f.binary(.sub, activation: a.activation)
        },
        attributes: [.fusedActivation, subOptions.attribute("pot_scale_int16", \.potScaleInt16)],
        shapeArithmetic: elementwiseShapeArithmetic(ShapeArithmetic.subtract),
        shape: { $0.broadcast },
        microFootprint: { c in
            // sub.cc / sub.h: Init allocates OpDataSub (requires_broadcast and 12 int32 fields);
            // SubPrepare (sub_common.cc) reads input1, input2, output. TfLiteSubParams:
            // activation, pot_scale_int16.
            .opData(c, CStruct([.bool, .array(.int32, 12)]), options: CStruct([.int32, .bool]))
        }
    )

    static let mul = OperatorDefinition(
        .mul,
        options: OptionsCodec(
            defaultKind: .mul(activation: .none),
            decode: { r in
                // MulOptions: 0 fused_activation_function.
                guard r.isTable(Schema.OptionsTag.mul), let a = try r.activation(0) else { return nil }
                return (.mul(activation: a), false)
            },
            encode: { op in
                guard case .mul(let a) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i8(0, a.rawValue)
                return (Schema.OptionsTag.mul, w.table)
            }
        ),
        activation: ActivationField(
            get: { if case .mul(let a) = $0 { a } else { nil } },
            set: { kind, v in if case .mul = kind { kind = .mul(activation: v) } }
        ),
        version: { s in
            let quantized = s.value(0)?.type.isQuantized ?? false
            var rescaleAtLeastOne = false
            if let a = s.value(0)?.quantization?.scales.first, let b = s.value(1)?.quantization?.scales.first,
                let o = s.outputValue(0)?.quantization?.scales.first, a != 0, b != 0, o != 0
            {
                rescaleAtLeastOne = Double(a) * Double(b) / Double(o) >= 1
            }
            return s.first([
                (s.input(0) == .float16, 8, "float16 inputs"),
                ((s.input(0) == .int16 && !quantized) || s.input(0) == .uint32, 7, "\(s.name(s.input(0))) inputs without quantization"),
                (s.input(0) == .complex64, 6, "complex64 inputs"),
                (s.input(0) == .int64, 5, "int64 inputs"),
                (s.input(0) == .int16, 4, "int16 inputs"),
                (rescaleAtLeastOne, 3, "input scales product / output scale ≥ 1"),
                (s.input(0) == .int8, 2, "int8 inputs"),
            ])
        },
        quantization: { op, c in
            guard case .mul = op.kind else { return nil }
            return activationOperandsFreeInt16(op, c)
        },
        kernel: { c in
            guard case .mul(let a) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try BinaryKernel(c, .mul, activation: a)
        },
        fold: { f in
            guard case .mul(let act) = f.kind else { return nil }
            return f.binary(.mul, activation: act)
        },
        attributes: [.fusedActivation],
        shapeArithmetic: elementwiseShapeArithmetic(ShapeArithmetic.multiply),
        shape: { $0.broadcast },
        microFootprint: { c in
            // mul.cc: Init allocates OpDataMul (9 int32/float). TfLiteMulParams: activation.
            .opData(c, .options(ints: 9), options: .options(ints: 1))
        }
    )

    /// DIV keeps its DivOptions opaquely (0 fused_activation_function); the kernel reads it.
    static let div = OperatorDefinition(
        .div,
        version: { s in s.first([(s.broadcastsAbove4D, 2, "broadcast with more than 4 dimensions")]) },
        kernel: { c in
            guard case .builtin(_, let options) = c.op.kind else { throw Unsupported("no kernel for this op") }
            guard let activation = OpaqueOptions.divActivation(options) else {
                throw Unsupported("fused activation \(options?.int8(0, default: 0) ?? 0)")
            }
            return try BinaryKernel(c, .div, activation: activation)
        },
        fold: { f in
            // DivOptions carries a fused activation (schema.fbs); an undefined one is not folded.
            guard case .builtin(_, let options) = f.kind, let (x, _) = f.pair, x.type.dtype == .float32,
                let activation = OpaqueOptions.divActivation(options)
            else { return nil }
            return f.binary(.div, activation: activation)
        },
        shapeArithmetic: { operands in
            guard case .builtin(_, let options) = operands.op.kind, (options?.int8(0, default: 0) ?? 0) == 0 else { return nil }
            return operands.elementwise(ShapeArithmetic.divide)
        },
        shape: { $0.broadcast }
    )

    /// FLOOR_DIV keeps its FloorDivOptions (no fields) opaquely.
    static let floorDiv = OperatorDefinition(
        .floorDiv,
        kernel: { c in try FloorDivModKernel(c, isMod: false) },
        shapeArithmetic: { operands in
            guard case .builtin = operands.op.kind else { return nil }
            return operands.elementwise(ShapeArithmetic.floorDivide)
        },
        shape: { $0.broadcast }
    )

    static let maximum = maximumOrMinimum(.maximum, .maximum)
    static let minimum = maximumOrMinimum(.minimum, .minimum)

    static func maximumOrMinimum(_ code: BuiltinOperator, _ operation: BinaryOperation) -> OperatorDefinition {
        OperatorDefinition(
            code,
            version: { s in
                s.first([
                    (s.input(0) == .int16 && s.output(0) == .int16, 4, "int16 inputs and output"),
                    (s.broadcastsAbove4D, 3, "broadcast with more than 4 dimensions"),
                    (s.input(0) == .int8, 2, "int8 inputs"),
                ])
            },
            kernel: { c in try BinaryKernel(c, operation, activation: .none) },
            fold: { f in f.binary(operation == .maximum ? .max : .min) },
            shape: { $0.broadcast }
        )
    }
}
